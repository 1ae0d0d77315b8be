//go:build !unix

package h1transport

// stillOpen reports whether a pooled connection can be used. Without a
// non-blocking peek here, a connection the server closed is found out by
// the round trip, which is then retried by the rules of net/http.
func (c *conn) stillOpen() bool { return c.br.Buffered() == 0 }

// probe is empty here: there is no peek to keep.
type probe struct{}
