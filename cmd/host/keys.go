package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
	"github.com/tollgate-dev/tollgate/internal/keys"
	"github.com/tollgate-dev/tollgate/pipeline"
)

const keysUsage = `Usage:
  tollgate keys create --customer ID [--team T] [--name N] [--models P,...] [--rpm N] [--tpm N]
                       [--monthly-budget USD] [--meta k=v]... [--ttl 720h] [--config FILE]
  tollgate keys list [--json] [--config FILE]  the keys of keys.db and auth.keys_file
  tollgate keys revoke KEY_ID [--config FILE]
  tollgate keys export [--config FILE]       keys.db's hashed keys as JSON, for auth.keys_file

Keys live hashed in keys.db in the config's data_dir; a key is printed once,
when it is created. A running gateway picks up changes within
auth.refresh_interval. Turn keys on with auth.virtual_keys: true.
A key revoked or expired in either keys.db or auth.keys_file is refused.
`

// keysCmd runs `tollgate keys …`.
func keysCmd(args []string, stdout, stderr io.Writer) int {
	if code, done := askedHelp(args, keysUsage, stdout, stderr); done {
		return code
	}
	sub, rest := args[0], args[1:]
	cfg, fs, err := loadConfigWith("keys "+sub, rest, stdout, stderr, func(fs flagSet) {
		if sub == "create" {
			fs.String("customer", "", "customer `ID` the key's calls are billed to")
			fs.String("team", "", "team the key belongs to (metadata team=T)")
			fs.String("name", "", "a label for people")
			fs.StringSlice("models", nil, "model names or patterns the key may call (default all)")
			fs.Int64("rpm", 0, "requests per minute of the key's calls (enforced by a ratelimit stage)")
			fs.Int64("tpm", 0, "tokens per minute of the key's calls (enforced by a ratelimit stage)")
			fs.String("monthly-budget", "", "cap in US dollars on the customer's spend this month, for the key's calls (enforced by a ratelimit stage; needs --customer)")
			fs.StringArray("meta", nil, "metadata `k=v` for every usage event of the key")
			fs.Duration("ttl", 0, "the key expires after this long (default never)")
		}
		if sub == "list" {
			fs.Bool("json", false, "print JSON")
		}
	})
	if err != nil {
		return loadFailed(stderr, err)
	}
	st := keys.NewStore(cfg.DataDir)
	switch sub {
	case "create":
		spec, err := keySpec(fs)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate keys create: %v\n", err)
			return 2
		}
		secret, k, err := st.Create(spec)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate keys create: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", secret)
		fmt.Fprintf(stderr, "created %s (customer %q, team %q): the key above is shown only now; store it safely\n", k.ID, k.Customer, k.Team)
		if !cfg.Auth.VirtualKeys {
			fmt.Fprintln(stderr, "note: auth.virtual_keys is off in this config, so the gateway does not ask for keys yet")
		}
		if k.HasLimits() && !keyLimitsEnforced(cfg) {
			fmt.Fprintln(stderr, "warning: "+keyLimitsHint)
		}
		return 0
	case "list":
		ks, fileErr, err := listKeys(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate keys list: %v\n", err)
			return 1
		}
		if fileErr != nil {
			fmt.Fprintf(stderr, "warning: %v; listing the keys of keys.db only\n", fileErr)
		}
		if asJSON, _ := fs.GetBool("json"); asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(ks)
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tHINT\tSTATE\tCUSTOMER\tTEAM\tMODELS\tNAME\tCREATED\tSOURCE")
		now := time.Now()
		for _, k := range ks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Hint, k.State(now), dash(k.Customer), dash(k.Team),
				dash(strings.Join(k.Models, ",")), dash(k.Name), k.Created.Format(time.RFC3339), k.Source)
		}
		tw.Flush()
		return 0
	case "revoke":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, "tollgate keys revoke: name one key id (see tollgate keys list)\n")
			return 2
		}
		k, err := st.Revoke(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "tollgate keys revoke: %v%s\n", err, onlyInFile(cfg, fs.Arg(0), err))
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s (customer %q)\n", k.ID, k.Customer)
		return 0
	case "export":
		ks, err := st.List()
		if err != nil {
			fmt.Fprintf(stderr, "tollgate keys export: %v\n", err)
			return 1
		}
		if ks == nil {
			ks = []keys.Key{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(ks)
		return 0
	}
	fmt.Fprintf(stderr, "tollgate keys: unknown command %q\n\n%s", sub, keysUsage)
	return 2
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// keySpec reads create's flags.
func keySpec(fs flagSet) (keys.Spec, error) {
	var s keys.Spec
	s.Customer, _ = fs.GetString("customer")
	s.Team, _ = fs.GetString("team")
	s.Name, _ = fs.GetString("name")
	s.Models, _ = fs.GetStringSlice("models")
	s.Limits.RequestsPerMinute, _ = fs.GetInt64("rpm")
	s.Limits.TokensPerMinute, _ = fs.GetInt64("tpm")
	s.TTL, _ = fs.GetDuration("ttl")
	if b, _ := fs.GetString("monthly-budget"); b != "" {
		v, err := core.ParseUSD(b)
		if err != nil {
			return s, fmt.Errorf("--monthly-budget: %v", err)
		}
		s.Limits.MonthlyBudget = v
	}
	metas, _ := fs.GetStringArray("meta")
	for _, m := range metas {
		k, v, ok := strings.Cut(m, "=")
		if !ok {
			return s, fmt.Errorf("--meta %q: want key=value", m)
		}
		if s.Metadata == nil {
			s.Metadata = map[string]string{}
		}
		s.Metadata[k] = v
	}
	return s, s.Check()
}

// keysRoutes serves the keys API on the admin listener (behind the admin
// token): GET /admin/keys, POST /admin/keys, POST /admin/keys/{id}/revoke.
func keysRoutes(mux *http.ServeMux, o *ops) {
	store := func() *keys.Store { return keys.NewStore(o.cfg.Load().DataDir) }
	mux.HandleFunc("GET /admin/keys", func(w http.ResponseWriter, r *http.Request) {
		ks, fileErr, err := listKeys(o.cfg.Load())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		out := map[string]any{"keys": ks}
		if fileErr != nil {
			out["warning"] = fileErr.Error() + "; the list holds the keys of keys.db only"
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /admin/keys", func(w http.ResponseWriter, r *http.Request) {
		b, err := readObject(r.Body, 64<<10, "a key spec")
		var spec keys.Spec
		if err == nil {
			spec, err = keys.ParseSpec(b)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		secret, k, err := store().Create(spec)
		if err != nil { // the spec is checked: the store failed
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		o.refreshKeys()
		out := map[string]any{"key": secret, "record": k}
		if k.HasLimits() && !o.keyLimitsEnforced() {
			out["warning"] = keyLimitsHint
		}
		writeJSON(w, http.StatusCreated, out)
	})
	mux.HandleFunc("POST /admin/keys/{id}/revoke", func(w http.ResponseWriter, r *http.Request) {
		k, err := store().Revoke(r.PathValue("id"))
		if err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, keys.ErrNotFound) {
				status = http.StatusNotFound
			}
			writeJSON(w, status, map[string]any{"error": err.Error() + onlyInFile(o.cfg.Load(), r.PathValue("id"), err)})
			return
		}
		o.refreshKeys()
		writeJSON(w, http.StatusOK, map[string]any{"revoked": k})
	})
}

// listKeys lists the keys a gateway with cfg takes: those of keys.db and
// of auth.keys_file, merged as the gateway merges them (keys.Merge), each
// with where it comes from. A keys file that does not read is fileErr:
// keys.db's keys are listed all the same.
func listKeys(cfg *config.Config) (ks []keys.Loaded, fileErr, err error) {
	fromStore, err := keys.NewStore(cfg.DataDir).List()
	if err != nil {
		return nil, nil, err
	}
	var fromFile []keys.Key
	if cfg.Auth.KeysFile != "" {
		fromFile, fileErr = keys.ReadFile(cfg.Auth.KeysFile)
	}
	ks, _ = keys.Merge(fromStore, fromFile)
	if ks == nil {
		ks = []keys.Loaded{}
	}
	return ks, fileErr, nil
}

// onlyInFile says, when revoking id failed because keys.db does not hold
// it, that the key comes from auth.keys_file, which revoke does not write.
func onlyInFile(cfg *config.Config, id string, err error) string {
	if !errors.Is(err, keys.ErrNotFound) || cfg.Auth.KeysFile == "" {
		return ""
	}
	fromFile, _ := keys.ReadFile(cfg.Auth.KeysFile)
	for _, k := range fromFile {
		if k.ID == id {
			return fmt.Sprintf(" (it comes from auth.keys_file %s: revoke it in the keys.db it was exported from, then export the keys again)", cfg.Auth.KeysFile)
		}
	}
	return ""
}

// keyLimitsHint says what to do when keys carry limits that nothing
// enforces.
const keyLimitsHint = "virtual keys' limits (--rpm, --tpm, --monthly-budget) are enforced by a ratelimit stage, and this config's pipeline has none " +
	"that does: add `- {name: ratelimit, kind: builtin}` after validate (docs/resilience.md, ratelimit)"

// keyLimitsEnforced reports whether cfg's pipeline has a stage that
// enforces virtual keys' own limits: a ratelimit built-in that leaves
// key_limits on.
func keyLimitsEnforced(cfg *config.Config) bool {
	for _, s := range cfg.Pipeline {
		if s.Kind != pipeline.KindBuiltin || pipeline.BuiltinName(s.Name) != "ratelimit" {
			continue
		}
		if on, ok := s.Config["key_limits"].(bool); !ok || on {
			return true
		}
	}
	return false
}

// keyLimiter is what a pipeline part implements to say it enforces
// virtual keys' own limits (the ratelimit built-in).
type keyLimiter interface{ EnforcesKeyLimits() bool }

// keyLimitsEnforced reports whether a stage of the live pipeline enforces
// virtual keys' own limits.
func (o *ops) keyLimitsEnforced() bool {
	for _, p := range o.parts() {
		if k, ok := p.Value.(keyLimiter); ok && k.EnforcesKeyLimits() {
			return true
		}
	}
	return false
}

// warnKeyLimits warns when keys carry limits that no stage of the live
// pipeline enforces. It runs at start and after each reload.
func (o *ops) warnKeyLimits() {
	if o.keys == nil || o.eng == nil {
		return
	}
	if n := o.keys.Limited(); n > 0 && !o.keyLimitsEnforced() {
		o.log.Warn("virtual keys carry limits that NOTHING ENFORCES: "+keyLimitsHint, "keys_with_limits", n)
	}
}

// refreshKeys makes a change through the admin API take effect at once.
func (o *ops) refreshKeys() {
	if o.keys == nil {
		return
	}
	// Applied with an error: the change is in force and the error is the
	// keys file's, which the periodic refresh reports once.
	if applied, err := o.keys.Refresh(true); err != nil && !applied {
		o.log.Warn("cannot re-read the virtual keys: the change is saved in keys.db and takes effect once they read", "err", err)
	}
}

// readObject reads a request body holding one JSON object, what (such as
// "a key spec"), of at most max bytes. Its errors say what is wrong: the
// body is empty, too long, not JSON (and at which byte) or not an object.
func readObject(body io.Reader, max int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading the body: %w", err)
	case int64(len(b)) > max:
		return nil, fmt.Errorf("the body is over %d bytes: want %s", max, what)
	case len(bytes.TrimSpace(b)) == 0:
		return nil, fmt.Errorf("the body is empty: want %s, a JSON object", what)
	}
	if why := jsonscan.Why(b); why != "" {
		return nil, fmt.Errorf("the body is not valid JSON: %s", why)
	}
	if k := jsonscan.KindOf(string(bytes.TrimSpace(b))); k != jsonscan.Object {
		return nil, fmt.Errorf("want %s, a JSON object; got %s", what, k.Described())
	}
	return b, nil
}
