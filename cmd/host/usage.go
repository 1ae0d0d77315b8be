package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/tracking"
)

const usageHelp = `tollgate usage — the usage ledger, the outbox and its dead letters

Usage:
  tollgate usage status        [--config FILE] [--json]
  tollgate usage report        [--config FILE] [--customer ID] [--from DAY] [--to DAY] [--group-by model,day] [--json]
  tollgate usage dead-letters  [--config FILE] [--sink NAME] [--id ID]... [--limit N] [--json]
  tollgate usage replay        [--config FILE] [--sink NAME] [--id ID]...
  tollgate usage purge         [--config FILE] [--sink NAME] [--id ID]... --yes
  tollgate usage recover       [--config FILE] [--json]

Each command reads the usage database in the config's data_dir (status,
report and dead-letters read-only). While a gateway runs it holds that
file; the command then asks the gateway through its admin listener
(admin_listen) instead. recover needs the gateway stopped.
DAY is 2026-03-01 (UTC) or an RFC 3339 time; from and to are inclusive.
recover exits 0 when it copied every entry, 3 when it copied some and lists
what it could not read (the gateway can start), 1 when it read nothing.
`

// usageCmd runs `tollgate usage SUBCOMMAND`.
func usageCmd(args []string, stdout, stderr io.Writer) int {
	if code, done := askedHelp(args, usageHelp, stdout, stderr); done {
		return code
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "status", "report", "dead-letters", "replay", "purge", "recover":
	default:
		fmt.Fprintf(stderr, "tollgate usage: unknown command %q\n\n%s", sub, usageHelp)
		return 2
	}
	cfg, fs, err := loadConfigWith("usage "+sub, args, stdout, stderr, func(fs flagSet) {
		fs.Bool("json", false, "print JSON")
		switch sub {
		case "report":
			fs.String("customer", "", "one customer (default: all)")
			fs.String("from", "", "first `DAY`, inclusive")
			fs.String("to", "", "last `DAY`, inclusive")
			fs.String("group-by", "", "comma-separated: customer, day, provider, model")
		case "dead-letters", "replay", "purge":
			fs.String("sink", "", "one sink (default: all)")
			fs.StringArray("id", nil, "one event `ID` (repeatable; default: all)")
			if sub == "dead-letters" {
				fs.Int("limit", 100, "list at most N (0: all)")
			}
			if sub == "purge" {
				fs.Bool("yes", false, "confirm: dead letters are deleted for good")
			}
		}
		strict(fs, "customer", "from", "to", "group-by", "sink", "id", "limit")
	})
	if err != nil {
		return loadFailed(stderr, err)
	}
	asJSON, _ := fs.GetBool("json")
	if sub == "recover" {
		return recoverCmd(cfg, asJSON, stdout, stderr)
	}
	if sub == "purge" {
		if yes, _ := fs.GetBool("yes"); !yes {
			fmt.Fprintln(stderr, "tollgate usage purge: dead letters are deleted for good; add --yes to confirm")
			return 2
		}
	}
	result, err := usageCall(cfg, sub, fs)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate usage %s: %v\n", sub, err)
		if errors.As(err, new(refusedQuery)) {
			return 2 // a flag's value was wrong, as with one pflag refuses
		}
		return 1
	}
	if asJSON {
		out, _ := json.MarshalIndent(result, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
		return 0
	}
	printUsage(stdout, sub, result)
	return 0
}

// strict makes the named flags, where fs has them, refuse an empty value,
// and a second one unless they take a list: a filter that went wrong must
// not widen what is read, replayed or purged (--sink "" meant every sink)
// nor be dropped (of --sink a --sink b only b was kept).
func strict(fs flagSet, names ...string) {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil {
			f.Value = &strictValue{Value: f.Value}
			if f.DefValue == "[]" {
				f.DefValue = "" // pflag's help knows "[]" as no default only for its own types
			}
		}
	}
}

// strictValue is a flag's value that refuses what strict says.
type strictValue struct {
	pflag.Value
	first string // the value given first, if any
	set   bool
}

func (v *strictValue) Set(s string) error {
	switch {
	case s == "":
		return errors.New("empty; to not filter by it, leave the flag out")
	case v.set && v.Type() != "stringArray":
		return fmt.Errorf("given twice (first %q); it takes one value", v.first)
	}
	v.first, v.set = s, true
	return v.Value.Set(s)
}

// ask is one admin API call a subcommand makes.
type ask struct {
	method, path string
	query        url.Values
	key          string // the field every answer of the route has
}

// usageCall answers a subcommand from the database, or from the running
// gateway when it holds the database. The result is the admin API's JSON,
// decoded generically, so both paths print the same.
func usageCall(cfg *config.Config, sub string, fs flagSet) (map[string]any, error) {
	v := url.Values{}
	a := ask{method: http.MethodGet, query: v}
	switch sub {
	case "status":
		a.path, a.key = "/admin/usage/outbox", "stats"
	case "report":
		a.path, a.key = "/admin/usage", "total"
		for _, k := range []string{"customer", "from", "to"} {
			if s, _ := fs.GetString(k); s != "" {
				v.Set(k, s)
			}
		}
		if s, _ := fs.GetString("group-by"); s != "" {
			v.Set("group_by", s)
		}
	case "dead-letters", "replay", "purge":
		a.path, a.key = "/admin/usage/dead-letters", "dead_letters"
		if sub != "dead-letters" {
			a.method, a.path = http.MethodPost, a.path+"/"+sub
			a.key = map[string]string{"replay": "replayed", "purge": "purged"}[sub]
		}
		if s, _ := fs.GetString("sink"); s != "" { // strict: never empty when given
			v.Set("sink", s)
		}
		ids, _ := fs.GetStringArray("id")
		v["id"] = ids
		if sub == "dead-letters" {
			n, _ := fs.GetInt("limit")
			v.Set("limit", strconv.Itoa(n))
		}
	}
	// Open would create a database where there is none: a mistyped data
	// dir would then read as a healthy, empty one. Nothing to replay or
	// purge there either.
	if _, err := tracking.Find(cfg.DataDir); err != nil {
		return nil, err
	}
	opts := []tracking.Option{tracking.WithLockTimeout(300 * time.Millisecond), tracking.WithoutVerify(),
		tracking.WithLogger(slog.New(slog.DiscardHandler))}
	if a.method == http.MethodGet {
		// Reading neither changes nor grows the file, and shares it with
		// other readers; a gateway holding it still keeps it (ErrLocked).
		opts = append(opts, tracking.ReadOnly())
	}
	db, err := tracking.Open(cfg.DataDir, opts...)
	if errors.Is(err, tracking.ErrLocked) {
		if cfg.AdminListen == "" {
			return nil, fmt.Errorf("%w; and admin_listen is off, so there is no way to ask it", err)
		}
		if config.PortPicked(cfg.AdminListen) {
			return nil, fmt.Errorf("%w; its admin_listen is %s, a port the kernel picked: pass the address its serving line printed (\"admin\":\"http://HOST:PORT\") as --admin-listen HOST:PORT", err, cfg.AdminListen)
		}
		var token string
		if cfg.Admin.TokenEnv != "" {
			token, _ = cfg.Lookup(cfg.Admin.TokenEnv)
		}
		return adminCall(cfg.AdminListen, token, a)
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	mux := http.NewServeMux()
	usageRoutes(mux, db, configuredSinks(cfg))
	req, _ := http.NewRequest(a.method, a.path+"?"+v.Encode(), nil)
	rec := &recorder{header: http.Header{}}
	mux.ServeHTTP(rec, req)
	return decodeAnswer(db.Path(), a, rec.status, rec.body.Bytes())
}

// adminTimeout bounds a call to a running gateway's admin listener, from
// connecting to the end of its answer. Listing and reports take
// milliseconds; a purge or replay of a million dead letters, seconds.
var adminTimeout = 30 * time.Second

// adminCall asks the running gateway, with the admin token if there is one.
func adminCall(addr, token string, a ask) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, a.method, "http://"+addr+a.path+"?"+a.query.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("admin_listen %q: %w", addr, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	var body []byte
	if err == nil {
		defer resp.Body.Close()
		body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("its admin listener %s did not answer %s %s within %s", addr, a.method, a.path, adminTimeout)
		if a.method == http.MethodPost {
			err = fmt.Errorf("%w; the gateway may still do it: list the dead letters to see", err)
		}
		return nil, fmt.Errorf("the usage database is held by a running gateway, and %w", err)
	case err != nil:
		return nil, fmt.Errorf("the usage database is held by a running gateway, and its admin listener %s does not answer: %w", addr, err)
	}
	return decodeAnswer(addr, a, resp.StatusCode, body)
}

// decodeAnswer reads what from answered a: the answer, or the error it
// says. Anything else — another server on the address — is said as such,
// with the start of what it answered.
func decodeAnswer(from string, a ask, status int, body []byte) (map[string]any, error) {
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // costs keep every digit
	if dec.Decode(&out) == nil {
		if msg, ok := out["error"].(string); ok && status != http.StatusOK {
			if status == http.StatusBadRequest {
				return nil, refusal(msg, out)
			}
			return nil, errors.New(msg)
		}
		if _, ok := out[a.key]; ok && status == http.StatusOK {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s answered %d to %s %s with something that is not tollgate's admin API: %s",
		from, status, a.method, a.path, excerpt(body, 200))
}

// refusedQuery is the admin API's 400: a filter the command passed on from
// its flags was wrong.
type refusedQuery struct{ error }

// refusal is the error a 400 answer says; an unknown sink is said with
// the flag's name.
func refusal(msg string, answer map[string]any) refusedQuery {
	value, ok := answer["unknown_sink"].(string)
	if !ok {
		return refusedQuery{errors.New(msg)}
	}
	u := &unknownSink{value: value}
	sinks, _ := answer["sinks"].([]any)
	for _, s := range sinks {
		u.sinks = append(u.sinks, fmt.Sprint(s))
	}
	return refusedQuery{u}
}

// excerpt is the start of body, at most n bytes, on one line.
func excerpt(body []byte, n int) string {
	cut := len(body) > n
	if cut {
		body = body[:n]
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "\uFFFD")), " ")
	switch {
	case s == "":
		return "an empty answer"
	case cut:
		return s + "…"
	}
	return s
}

// recorder is a minimal in-process ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// printUsage prints a result for people.
func printUsage(w io.Writer, sub string, res map[string]any) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	defer tw.Flush()
	switch sub {
	case "status":
		st, _ := res["stats"].(map[string]any)
		fmt.Fprintf(tw, "health: %v\nfile: %v bytes\n\n", res["health"], st["file_bytes"])
		fmt.Fprintln(tw, "SINK\tSTAGE\tQUEUED\tDEAD LETTERS\tBACKLOG BYTES\tDROPPED\tFAILING")
		sinks, _ := st["sinks"].([]any)
		for _, s := range sinks {
			m, _ := s.(map[string]any)
			stage := m["stage"]
			if stage == nil {
				stage = "(not configured here)"
			}
			fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\t%v\t%v\n", m["name"], stage, m["queued"], m["dead_letters"], m["backlog_bytes"], m["dropped_total"], m["failing"])
		}
	case "report":
		q, _ := res["query"].(map[string]any)
		var groups []string
		if g, ok := q["group_by"].([]any); ok {
			for _, d := range g {
				groups = append(groups, fmt.Sprint(d))
			}
		}
		cols := []string{"requests", "input_tokens", "output_tokens", "cached_input_tokens", "cost", "unpriced_requests", "errors"}
		head := append(slices.Clone(groups), cols...)
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(head, "\t")))
		rows, _ := res["rows"].([]any)
		for _, r := range rows {
			m, _ := r.(map[string]any)
			var cells []string
			for _, c := range head {
				cells = append(cells, cell(m[c]))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		total, _ := res["total"].(map[string]any)
		cells := make([]string, len(groups))
		if len(cells) > 0 {
			cells[0] = "TOTAL"
		}
		for _, c := range cols {
			cells = append(cells, cell(total[c]))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	case "dead-letters":
		dls, _ := res["dead_letters"].([]any)
		fmt.Fprintln(tw, "SINK\tEVENT ID\tFAILED AT\tATTEMPTS\tREASON")
		for _, d := range dls {
			m, _ := d.(map[string]any)
			fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\n", m["sink"], m["id"], m["failed_at"], m["attempts"], m["reason"])
		}
		fmt.Fprintf(tw, "\n%d dead letters shown; resend with `tollgate usage replay`\n", len(dls))
	case "replay":
		fmt.Fprintf(tw, "%v dead letters moved back to their sinks' queues\n", res["replayed"])
	case "purge":
		fmt.Fprintf(tw, "%v dead letters deleted\n", res["purged"])
	}
}

func cell(v any) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(v)
}
