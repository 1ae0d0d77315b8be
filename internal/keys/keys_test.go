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
		{"bad pattern", keys.Spec{Customer: "a", Models: []string{"gpt-["}}, "models"},
		{"bad metadata key", keys.Spec{Customer: "a", Metadata: map[string]string{"Bad Key": "x"}}, "metadata"},
		{"negative limit", keys.Spec{Customer: "a", Limits: core.Limits{RequestsPerMinute: -1}}, "negative"},
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

func manyTags(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("t%d", i)] = "x"
	}
	return m
}
