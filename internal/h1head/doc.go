// Package h1head scans the common HTTP/1.x message head straight from a
// bufio.Reader's buffer, for h1server (requests) and h1transport
// (responses).
//
// The scanners are strict on purpose: CRLF lines, token header names of
// letters, digits and dashes, values textproto accepts, no obs-fold, the
// whole head in the buffer. Anything else makes the caller leave the head
// unread for net/http's parser, so unusual or bad input gets net/http's
// answer. Strings keeps a connection's header strings from one head to
// the next, so equal bytes are not copied again.
package h1head
