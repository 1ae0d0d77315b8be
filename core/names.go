package core

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The longest customer id and model name a call may carry. Both travel on
// every usage event, into logs, metrics and trackers, and key the usage
// ledger's rows; an id of kilobytes is a client's mistake, not a customer.
// (Before these bounds, one 40 KB customer header made every later usage
// event wait in memory: the ledger's store refuses keys over 32 KiB.)
const (
	MaxCustomerIDBytes = 256
	MaxModelBytes      = 256
)

// CheckCustomerID says what is wrong with a customer id, or returns nil:
// too long, a control character (a NUL would split the ledger's key), or
// bytes that are not UTF-8 (usage events are JSON, which writes each as
// U+FFFD: two customers would read as one). The error reads after the
// id's source: "the X-Tollgate-Customer header is 300 bytes long; …".
func CheckCustomerID(id string) error { return checkName(id, "a customer id", MaxCustomerIDBytes) }

// checkModelName is CheckCustomerID for a model name.
func checkModelName(model string) error { return checkName(model, "a model name", MaxModelBytes) }

func checkName(s, what string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("is %d bytes long; %s is at most %d", len(s), what, limit)
	}
	if printableASCII(s) {
		return nil
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("has a control character (%U) at byte %d; %s may not", []rune(s[i:])[0], i, what)
	}
	return checkUTF8(s, what)
}

// printableASCII reports whether every byte of s is printable ASCII, as
// in nearly every id and name: then s is UTF-8 and has no control
// character, which one pass over its bytes tells faster than decoding.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// checkUTF8 says where s has a byte that is not UTF-8, or returns nil.
func checkUTF8(s, what string) error {
	if utf8.ValidString(s) {
		return nil
	}
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return fmt.Errorf("has a byte that is not UTF-8 (%#02x) at byte %d; %s must be UTF-8 text", s[i], i, what)
		}
	}
	return nil
}

// The most tags a call's usage event carries, and the longest tag name and
// value (OpenAI's own bounds for its metadata parameter are 16, 64 and
// 512). Tags travel on every usage event: through the outbox's memory and
// its disk queues, which all sinks share, to every tracker, and into rate
// limits keyed by metadata.NAME. Without a bound, a client sending a
// megabyte of X-Tollgate-Meta-* headers on each call would fill that
// shared backlog and crowd out every other customer's events.
const (
	MaxMetadataTags       = 32
	MaxMetadataNameBytes  = 64
	MaxMetadataValueBytes = 512
)

// CheckMetadata says what is wrong with a call's tags, or returns nil: too
// many, a name too long or with a control character, a value too long.
func CheckMetadata(m map[string]string) error { return checkMetadata(m, nil) }

// checkMetadata is CheckMetadata; headerOf names the client's header a
// tag came from ("" when it did not), so that the error can say which.
func checkMetadata(m map[string]string, headerOf func(name, value string) string) error {
	if len(m) > MaxMetadataTags {
		return fmt.Errorf("the call carries %d metadata tags; at most %d", len(m), MaxMetadataTags)
	}
	name, inName, err := badTag(m)
	if err == nil {
		return nil
	}
	header := ""
	if headerOf != nil {
		header = headerOf(name, m[name])
	}
	switch {
	case header != "" && inName:
		return fmt.Errorf("the tag name of the %s header %w", clip(header, 48), err)
	case header != "":
		return fmt.Errorf("the %s header %w", header, err)
	case inName:
		return fmt.Errorf("the metadata name %s %w", shortQuote(name), err)
	default:
		return fmt.Errorf("the value of metadata tag %s %w", shortQuote(name), err)
	}
}

// badTag returns the first tag, by name, whose name or value is out of
// bounds, whether its name is the fault, and what is wrong; err is nil
// when every tag fits.
func badTag(m map[string]string) (name string, inName bool, err error) {
	found := false
	for k, v := range m {
		if len(v) > MaxMetadataValueBytes || len(k) > MaxMetadataNameBytes ||
			!printableASCII(k) && (hasControl(k) || !utf8.ValidString(k)) || !utf8.ValidString(v) {
			if !found || k < name {
				name, found = k, true
			}
		}
	}
	if !found {
		return "", false, nil
	}
	if err := checkName(name, "a metadata name", MaxMetadataNameBytes); err != nil {
		return name, true, err
	}
	if v := m[name]; len(v) > MaxMetadataValueBytes {
		return name, false, fmt.Errorf("is %d bytes long; a metadata value is at most %d", len(v), MaxMetadataValueBytes)
	}
	return name, false, checkUTF8(m[name], "a metadata value")
}

func hasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// shortQuote quotes s, cut to 32 bytes and marked "…": an error names a
// refused value without repeating all of it.
func shortQuote(s string) string {
	if len(s) <= 32 {
		return strconv.Quote(s)
	}
	return strconv.Quote(cutAt(s, 32)) + "…"
}

// clip is s cut to at most n bytes, marked "…" where it was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutAt(s, n) + "…"
}

// cutAt is the longest prefix of s of at most n bytes that ends at a
// character boundary.
func cutAt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
