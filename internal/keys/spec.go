package keys

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// Spec is what a new key is created with.
type Spec struct {
	Name     string
	Customer string
	Team     string
	Models   []string
	Limits   core.Limits
	Metadata map[string]string
	// TTL, if positive, makes the key expire after it; zero means never.
	TTL time.Duration
}

var metaKey = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// Check reports what is wrong with a spec, naming the field.
func (s Spec) Check() error {
	var errs []error
	if s.Customer == "" && s.Team == "" {
		errs = append(errs, errors.New("a key belongs to a customer or a team: set --customer or --team"))
	}
	if err := core.CheckCustomerID(s.Customer); err != nil {
		errs = append(errs, fmt.Errorf("customer: the id %w", err)) // the gateway would refuse its calls
	}
	for i, m := range s.Models {
		if _, err := path.Match(m, ""); err != nil || m == "" {
			errs = append(errs, fmt.Errorf("models[%d]: %q is not a model name or pattern such as gpt-4o*", i, m))
		}
	}
	for k := range s.Metadata {
		if !metaKey.MatchString(k) {
			errs = append(errs, fmt.Errorf("metadata: key %q: want lowercase letters, digits, _ . -", k))
		}
	}
	// the gateway refuses a call whose tags are out of bounds; the key adds team and key_id
	if len(s.Team) > core.MaxMetadataValueBytes {
		errs = append(errs, fmt.Errorf("team: %d bytes long; the key's calls carry it as the metadata tag team, which is at most %d",
			len(s.Team), core.MaxMetadataValueBytes))
	}
	if n := len(s.Metadata); n > core.MaxMetadataTags-2 {
		errs = append(errs, fmt.Errorf("metadata: %d tags; a key has at most %d (its calls also carry team and key_id)", n, core.MaxMetadataTags-2))
	} else if err := core.CheckMetadata(s.Metadata); err != nil {
		errs = append(errs, fmt.Errorf("metadata: %w", err))
	}
	for _, l := range []struct {
		name string
		v    int64
		show string
	}{
		{"limits.requests_per_minute (--rpm)", s.Limits.RequestsPerMinute, fmt.Sprint(s.Limits.RequestsPerMinute)},
		{"limits.tokens_per_minute (--tpm)", s.Limits.TokensPerMinute, fmt.Sprint(s.Limits.TokensPerMinute)},
		{"limits.monthly_budget (--monthly-budget)", int64(s.Limits.MonthlyBudget), s.Limits.MonthlyBudget.String()},
	} {
		if l.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %s", l.name, l.show))
		}
	}
	if s.Limits.MonthlyBudget > 0 && s.Customer == "" {
		errs = append(errs, errors.New("a monthly budget caps the spend of the key's customer, which the usage ledger counts: set --customer with --monthly-budget"))
	}
	if s.TTL < 0 {
		// Create sets an expiry only for a positive ttl: a negative one made a key that never expires
		errs = append(errs, fmt.Errorf("ttl: must be positive (or 0 for a key that never expires), got %s", s.TTL))
	}
	return errors.Join(errs...)
}

// specJSON is a spec as the admin API takes it.
type specJSON struct {
	Name     string            `json:"name"`
	Customer string            `json:"customer"`
	Team     string            `json:"team"`
	Models   []string          `json:"models"`
	Limits   core.Limits       `json:"limits"`
	Metadata map[string]string `json:"metadata"`
	TTL      string            `json:"ttl"`
}

// ParseSpec reads a spec from a JSON object (the body of POST
// /admin/keys: customer, team, name, models, limits, metadata and ttl such
// as "720h") and checks it. Its errors say what is wrong and where, as in
// `a key spec: metadata.y: want a string, got [1]` or `a key spec: limits:
// unknown key "rpm" (known: …)`, then what Check finds.
func ParseSpec(data []byte) (Spec, error) {
	var in specJSON
	if err := pipeline.DecodeJSON(data, &in); err != nil {
		return Spec{}, fmt.Errorf("a key spec: %w", err)
	}
	s := Spec{Name: in.Name, Customer: in.Customer, Team: in.Team, Models: in.Models, Limits: in.Limits, Metadata: in.Metadata}
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil {
			return Spec{}, fmt.Errorf("ttl: want a duration like \"720h\", got %q", in.TTL)
		}
		s.TTL = d
	}
	return s, s.Check()
}
