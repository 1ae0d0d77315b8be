package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/keys"
)

func TestKeyLifecycle(t *testing.T) {
	dir := t.TempDir()
	st := keys.NewStore(dir)
	auth, err := keys.NewAuthenticator(st, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(context.Background(), "tg-nothing-yet"); !errors.Is(err, core.ErrAuth) {
		t.Fatalf("empty store: %v", err)
	}
	secret, k, err := st.Create(keys.Spec{Name: "ci", Customer: "acme", Team: "ml", Models: []string{"gpt-4o*"},
		Limits: core.Limits{RequestsPerMinute: 60}, Metadata: map[string]string{"env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if !keys.LooksLikeKey(secret) || !strings.HasPrefix(k.ID, "key_") {
		t.Fatalf("key %q id %q", secret, k.ID)
	}
	// The store never holds the key itself.
	raw, _ := os.ReadFile(filepath.Join(dir, keys.FileName))
	if strings.Contains(string(raw), secret) || strings.Contains(string(raw), secret[len(keys.Prefix):]) {
		t.Fatal("keys.db holds the key in clear")
	}
	if changed, err := auth.Refresh(false); err != nil || !changed {
		t.Fatalf("Refresh = %v, %v", changed, err)
	}
	p, err := auth.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	if n := auth.Limited(); n != 1 {
		t.Errorf("Limited = %d, want 1 (the key has --rpm)", n)
	}
	if p.KeyID != k.ID || p.Customer != "acme" || p.Metadata["team"] != "ml" || p.Metadata["env"] != "prod" ||
		!p.AllowsModel("gpt-4o-mini") || p.AllowsModel("claude-3") || p.Limits.RequestsPerMinute != 60 {
		t.Errorf("principal %+v", p)
	}
	for _, wrong := range []string{"", secret + "x", strings.ToUpper(secret), "sk-provider-key"} {
		if _, err := auth.Authenticate(context.Background(), wrong); !errors.Is(err, core.ErrAuth) {
			t.Errorf("Authenticate(%q) = %v, want an auth error", wrong, err)
		}
	}
	list, err := st.List()
	if err != nil || len(list) != 1 || list[0].Hint != secret[:7]+"…" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Revoke("key_nope"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Revoke unknown = %v", err)
	}
	auth.Refresh(true)
	if _, err := auth.Authenticate(context.Background(), secret); !errors.Is(err, core.ErrAuth) {
		t.Errorf("revoked key: %v", err)
	}
	if n := auth.Limited(); n != 0 {
		t.Errorf("Limited = %d after the revocation, want 0", n)
	}
	list, _ = st.List()
	if list[0].Revoked == nil {
		t.Error("the list does not show the revocation")
	}
}

func TestKeysFileSharesKeysBetweenReplicas(t *testing.T) {
	a := keys.NewStore(t.TempDir())
	secret, _, err := a.Create(keys.Spec{Customer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := a.List()
	data, _ := json.Marshal(list)
	file := filepath.Join(t.TempDir(), "keys.json")
	os.WriteFile(file, data, 0o600)
	// Another replica, with an empty store of its own, reads the file.
	auth, err := keys.NewAuthenticator(keys.NewStore(t.TempDir()), file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := auth.Authenticate(context.Background(), secret); err != nil || p.Customer != "acme" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
}

func TestSpecCheck(t *testing.T) {
	tests := []struct {
		name string
		spec keys.Spec
		want string
	}{
		{"owner required", keys.Spec{}, "customer or a team"},
		{"bad pattern", keys.Spec{Customer: "a", Models: []string{"gpt-["}}, `models[0]: "gpt-[" is not a model name or pattern`},
		{"bad metadata key", keys.Spec{Customer: "a", Metadata: map[string]string{"Bad Key": "x"}}, "metadata"},
		{"negative rpm", keys.Spec{Customer: "a", Limits: core.Limits{RequestsPerMinute: -1}},
			"limits.requests_per_minute (--rpm): must not be negative, got -1"},
		{"negative tpm", keys.Spec{Customer: "a", Limits: core.Limits{TokensPerMinute: -2}},
			"limits.tokens_per_minute (--tpm): must not be negative, got -2"},
		{"negative budget", keys.Spec{Customer: "a", Limits: core.Limits{MonthlyBudget: -core.Dollar / 2}},
			"limits.monthly_budget (--monthly-budget): must not be negative, got -0.5"},
		{"negative ttl", keys.Spec{Customer: "a", TTL: -time.Hour}, "ttl: must be positive (or 0 for a key that never expires), got -1h0m0s"},
		{"empty model", keys.Spec{Customer: "a", Models: []string{"gpt-4o", ""}}, `models[1]: "" is not a model name or pattern`},
		{"budget without a customer", keys.Spec{Team: "ml", Limits: core.Limits{MonthlyBudget: core.Dollar}}, "set --customer with --monthly-budget"},
		{"customer id too long", keys.Spec{Customer: strings.Repeat("c", 300)}, "customer: the id is 300 bytes long; a customer id is at most 256"},
		{"metadata value too long", keys.Spec{Customer: "a", Metadata: map[string]string{"note": strings.Repeat("v", 513)}},
			`metadata: the value of metadata tag "note" is 513 bytes long; a metadata value is at most 512`},
		{"team too long", keys.Spec{Team: strings.Repeat("t", 600)},
			"team: 600 bytes long; the key's calls carry it as the metadata tag team, which is at most 512"},
		{"too many metadata tags", keys.Spec{Customer: "a", Metadata: manyTags(31)},
			"metadata: 31 tags; a key has at most 30 (its calls also carry team and key_id)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCreateRefusesANegativeTTL(t *testing.T) {
	st := keys.NewStore(t.TempDir())
	if _, _, err := st.Create(keys.Spec{Customer: "a", TTL: -time.Hour}); err == nil || !strings.Contains(err.Error(), "ttl: must be positive") {
		t.Errorf("Create with ttl -1h = %v, want refused", err)
	}
	// Zero means never.
	_, k, err := st.Create(keys.Spec{Customer: "a"})
	if err != nil || k.Expires != nil {
		t.Errorf("Create without a ttl = %+v, %v; want no expiry", k.Expires, err)
	}
}

func TestParseSpec(t *testing.T) {
	s, err := keys.ParseSpec([]byte(`{"customer":"acme","models":["gpt-4o*"],"metadata":{"env":"prod"},
		"limits":{"tokens_per_minute":9223372036854775807,"monthly_budget":"2.50"},"ttl":"720h"}`))
	if err != nil || s.Customer != "acme" || s.Models[0] != "gpt-4o*" || s.Metadata["env"] != "prod" ||
		s.Limits.TokensPerMinute != 1<<63-1 || s.Limits.MonthlyBudget != 5*core.Dollar/2 || s.TTL != 720*time.Hour {
		t.Fatalf("ParseSpec = %+v, %v", s, err)
	}
	// A null where a field is optional leaves it unset, as clients that
	// send every field write it.
	if s, err := keys.ParseSpec([]byte(`{"customer":"acme","team":null,"ttl":null,"metadata":null}`)); err != nil || s.TTL != 0 {
		t.Errorf("ParseSpec with nulls = %+v, %v", s, err)
	}
	tests := []struct{ name, body, want string }{
		{"a metadata value", `{"customer":"a","metadata":{"x":"ok","y":[1]}}`, "a key spec: metadata.y: want a string, got [1]"},
		{"a null metadata value", `{"customer":"a","metadata":{"x":null}}`, "a key spec: metadata.x: want a string, got null"},
		{"a model", `{"customer":"a","models":["a",5]}`, "a key spec: models[1]: want a string, got 5"},
		{"models not a list", `{"customer":"a","models":"gpt-4o"}`, `a key spec: models: want a list of strings, got "gpt-4o"`},
		{"a budget out of range", `{"customer":"a","limits":{"monthly_budget":1e400}}`, `a key spec: limits.monthly_budget: not a dollar amount: "1e400" (want a decimal like 2.50, at most 12 decimal places)`},
		{"a limit over int64", `{"customer":"a","limits":{"tokens_per_minute":9223372036854775808}}`,
			"a key spec: limits.tokens_per_minute: want a whole number, got 9223372036854775808"},
		{"a fractional limit", `{"customer":"a","limits":{"requests_per_minute":1.5}}`,
			"a key spec: limits.requests_per_minute: want a whole number, got 1.5"},
		{"limits not an object", `{"customer":"a","limits":5}`, "a key spec: limits: want an object, got 5"},
		{"an unknown key", `{"customer":"a","customr":1}`, `a key spec: unknown key "customr" (known: customer, limits, metadata, models, name, team, ttl)`},
		{"an unknown limit", `{"customer":"a","limits":{"rpm":5}}`,
			`a key spec: limits: unknown key "rpm" (known: monthly_budget, requests_per_minute, tokens_per_minute)`},
		{"a ttl not a duration", `{"customer":"a","ttl":"a month"}`, `ttl: want a duration like "720h", got "a month"`},
		{"a ttl not a string", `{"customer":"a","ttl":5}`, `a key spec: ttl: want a string, got 5`},
		{"a negative ttl", `{"customer":"a","ttl":"-1h"}`, "ttl: must be positive (or 0 for a key that never expires), got -1h0m0s"},
		{"a negative limit", `{"customer":"a","limits":{"tokens_per_minute":-5}}`, "limits.tokens_per_minute (--tpm): must not be negative, got -5"},
		{"not JSON", `{"customer":`, "a key spec: not valid JSON: unexpected end of JSON input, at byte 12"},
		{"not an object", `[1]`, "a key spec: want an object, got [1]"},
		{"a long value", `{"customer":"a","name":[` + strings.Repeat(`"xxxxxxxx",`, 10) + `1]}`, "a key spec: name: want a string, got an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := keys.ParseSpec([]byte(tt.body)); err == nil || err.Error() != tt.want {
				t.Errorf("ParseSpec = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func manyTags(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("t%d", i)] = "x"
	}
	return m
}
