package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
)

var hexSum = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CheckPinFormat reports a sha256 pin that is not 64 lowercase hex digits;
// an empty pin is left to [ReadPinned], which says what to set.
func CheckPinFormat(pin string) error {
	if pin != "" && !hexSum.MatchString(pin) {
		return fmt.Errorf("sha256: want 64 lowercase hex digits, got %q", pin)
	}
	return nil
}

// ReadPinned reads the plugin file at path and checks it against its
// pinned sha256; what names the file in messages ("module", "executable").
// A missing pin is refused with the file's sum, to check and set.
func ReadPinned(path, pin, what string) (bin []byte, sum [sha256.Size]byte, err error) {
	bin, err = os.ReadFile(path)
	if err != nil {
		return nil, sum, fmt.Errorf("path: %w", err)
	}
	sum = sha256.Sum256(bin)
	got := hex.EncodeToString(sum[:])
	if pin == "" {
		return nil, sum, fmt.Errorf("sha256: required: pin the %s; %s has sha256 %s (check it is the %s you expect, then set sha256: %s)", what, path, got, what, got)
	}
	if got != pin {
		return nil, sum, fmt.Errorf("sha256: mismatch: the config pins %s but %s has %s; the %s changed: check where it came from, then update sha256", pin, path, got, what)
	}
	return bin, sum, nil
}
