package h1server

// The checks net/http's server makes with golang.org/x/net/http/httpguts,
// kept here so the module does not import it directly.

// validHost reports whether a Host header holds only bytes a host, an
// IPv6 literal with its zone, or a port may hold.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !validHostByte[h[i]] {
			return false
		}
	}
	return true
}

var validHostByte = func() (t [256]bool) {
	for _, r := range "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&()*+,-.:;=[]'_~" {
		t[r] = true
	}
	return t
}()

// validHeaderName reports whether k is an RFC 7230 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !tokenByte[k[i]] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [256]bool) {
	for _, r := range "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&'*+-.^_`|~" {
		t[r] = true
	}
	return t
}()

// validHeaderValue reports whether v holds no control byte but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		b := v[i]
		if (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}
