package core

import (
	"fmt"
	"strings"
	"unicode"
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
// too long, or a control character (a NUL would split the ledger's key).
// The error reads after the id's source: "the X-Tollgate-Customer header
// is 300 bytes long; …".
func CheckCustomerID(id string) error { return checkName(id, "a customer id", MaxCustomerIDBytes) }

// checkModelName is CheckCustomerID for a model name.
func checkModelName(model string) error { return checkName(model, "a model name", MaxModelBytes) }

func checkName(s, what string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("is %d bytes long; %s is at most %d", len(s), what, limit)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("has a control character (%U) at byte %d; %s may not", []rune(s[i:])[0], i, what)
	}
	return nil
}
