package tracking_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
	"github.com/tollgate-dev/tollgate/tracking"
)

func at(day string) time.Time {
	t, err := time.Parse("2006-01-02T15:04", day)
	if err != nil {
		panic(err)
	}
	return t
}

func cost(s string) *core.USD {
	v, err := core.ParseUSD(s)
	if err != nil {
		panic(err)
	}
	return &v
}

// ledgerEvents is a known set: acme on two days and two models, globex once,
// one failure and one unpriced event.
func ledgerEvents() []*core.UsageEvent {
	mk := func(customer, when, model string, in, out int64, c *core.USD, status string) *core.UsageEvent {
		ev := event(customer, model, in, out)
		ev.Timestamp, ev.Cost, ev.Status = at(when), c, status
		return ev
	}
	return []*core.UsageEvent{
		mk("acme", "2026-03-01T09:00", "gpt-4o", 1000, 100, cost("0.0035"), core.StatusOK),
		mk("acme", "2026-03-01T23:59", "gpt-4o", 2000, 200, cost("0.007"), core.StatusOK),
		mk("acme", "2026-03-01T10:00", "gpt-4o-mini", 1000, 500, cost("0.00045"), core.StatusOK),
		mk("acme", "2026-03-02T00:00", "gpt-4o", 500, 50, cost("0.00175"), core.StatusOK),
		mk("acme", "2026-03-02T08:00", "gpt-4o", 0, 0, cost("0"), core.StatusUpstreamError),
		mk("acme", "2026-03-02T08:30", "mystery-model", 10, 10, nil, core.StatusOK),
		mk("acme", "2026-02-28T12:00", "gpt-4o", 100, 10, cost("0.00035"), core.StatusOK),
		mk("globex", "2026-03-01T12:00", "gpt-4o", 4000, 400, cost("0.014"), core.StatusOK),
	}
}

func TestLedgerAgainstKnownEvents(t *testing.T) {
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Ledger: true, Sinks: []tracking.SinkConfig{{Name: "rec", Sink: (&recorder{}).sink()}}})
	for _, ev := range ledgerEvents() {
		ob.Enqueue(ev)
	}
	waitPersisted(t, ob)
	ctx := context.Background()

	t.Run("by model over a range", func(t *testing.T) {
		rep, err := db.Usage(ctx, tracking.Query{Customer: "acme", From: at("2026-03-01T00:00"), To: at("2026-03-02T00:00"), GroupBy: []string{"model"}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][3]string{ // requests, input tokens, cost
			"gpt-4o":        {"4", "3500", "0.01225"},
			"gpt-4o-mini":   {"1", "1000", "0.00045"},
			"mystery-model": {"1", "10", "0"},
		}
		if len(rep.Rows) != len(want) {
			t.Fatalf("rows %+v", rep.Rows)
		}
		for _, r := range rep.Rows {
			w := want[r.Model]
			got := [3]string{itoa(r.Requests), itoa(r.InputTokens), r.Cost.String()}
			if got != w {
				t.Errorf("%s: [requests input cost] = %v, want %v", r.Model, got, w)
			}
		}
		if rep.Total.Requests != 6 || rep.Total.Cost != *cost("0.0127") || rep.Total.Errors != 1 || rep.Total.Unpriced != 1 {
			t.Errorf("total %+v", rep.Total)
		}
	})
	t.Run("by day", func(t *testing.T) {
		rep, _ := db.Usage(ctx, tracking.Query{Customer: "acme", GroupBy: []string{"day"}})
		var days []string
		for _, r := range rep.Rows {
			days = append(days, r.Day+"="+r.Cost.String())
		}
		if got := strings.Join(days, " "); got != "2026-02-28=0.00035 2026-03-01=0.01095 2026-03-02=0.00175" {
			t.Errorf("days %s", got)
		}
	})
	t.Run("all customers", func(t *testing.T) {
		rep, _ := db.Usage(ctx, tracking.Query{From: at("2026-03-01T00:00"), To: at("2026-03-01T00:00"), GroupBy: []string{"customer"}})
		if len(rep.Rows) != 2 || rep.Rows[0].Customer != "acme" || rep.Rows[1].Customer != "globex" ||
			rep.Rows[1].Cost != *cost("0.014") || rep.Total.InputTokens != 8000 {
			t.Errorf("rows %+v total %+v", rep.Rows, rep.Total)
		}
		b, _ := json.Marshal(rep.Rows[1])
		if !strings.Contains(string(b), `"customer":"globex"`) || strings.Contains(string(b), `"model"`) || !strings.Contains(string(b), `"cost":0.014`) {
			t.Errorf("row JSON %s", b)
		}
	})
	t.Run("spend for budgets", func(t *testing.T) {
		var sr core.SpendReader = db
		day, month, err := sr.Spend(ctx, "acme", at("2026-03-02T15:00"))
		if err != nil {
			t.Fatal(err)
		}
		if day.Requests != 3 || day.Cost != *cost("0.00175") || month.Requests != 6 || month.Cost != *cost("0.0127") {
			t.Errorf("day %+v month %+v", day, month)
		}
		lazy := tracking.SpendReader(t.TempDir())
		if _, _, err := lazy.Spend(ctx, "acme", at("2026-03-02T15:00")); err == nil {
			t.Error("a spend reader over a closed data dir should say so")
		}
	})
	t.Run("bad queries", func(t *testing.T) {
		if _, err := db.Usage(ctx, tracking.Query{GroupBy: []string{"week"}}); err == nil || !strings.Contains(err.Error(), `unknown dimension "week"`) {
			t.Errorf("group_by week: %v", err)
		}
		if _, err := db.Usage(ctx, tracking.Query{From: at("2026-03-02T00:00"), To: at("2026-03-01T00:00")}); err == nil {
			t.Error("from after to accepted")
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestLedgerTakesAnyEvent: an event whose customer or model is too long
// for a key of the store (32 KiB), or holds the keys' separator (NUL), is
// persisted with its ledger row bounded, and the events behind it too.
// Before, its key failed every commit and every later event waited in
// memory.
func TestLedgerTakesAnyEvent(t *testing.T) {
	db := open(t, t.TempDir())
	ob := newOutbox(t, db, tracking.Config{Ledger: true, Sinks: []tracking.SinkConfig{{Name: "rec", Sink: (&recorder{}).sink()}}})
	huge := strings.Repeat("c", 40000)
	for _, ev := range []*core.UsageEvent{
		event(huge, "gpt-4o", 10, 1),
		event("acme", "gpt-"+strings.Repeat("é", 20000), 20, 2),
		event("acme\x00globex", "gpt-4o", 30, 3),
		event("initech", "gpt-4o", 40, 4),
	} {
		ob.Enqueue(ev)
	}
	waitPersisted(t, ob)
	rep, err := db.Usage(context.Background(), tracking.Query{From: at("2026-03-14T00:00"), To: at("2026-03-15T00:00"),
		GroupBy: []string{"customer", "model"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rep.Rows {
		if len(r.Customer) > 1024 || len(r.Model) > 1024 || !utf8.ValidString(r.Model) {
			t.Errorf("a row's key is not bounded: customer %d bytes, model %d bytes", len(r.Customer), len(r.Model))
		}
		got[r.Customer[:min(len(r.Customer), 16)]+" "+r.Model[:min(len(r.Model), 6)]] = r.InputTokens
	}
	want := map[string]int64{
		"cccccccccccccccc gpt-4o": 10,
		"acme gpt-é":              20,
		"acme\uFFFDglobex gpt-4o": 30,
		"initech gpt-4o":          40,
	}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("row %q: %d input tokens, want %d (rows %v)", k, got[k], v, got)
		}
	}
}

// persistAndClose puts events in the ledger of a database in dir, and
// closes it.
func persistAndClose(t *testing.T, dir string, events ...*core.UsageEvent) {
	t.Helper()
	db, err := tracking.Open(dir, tracking.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ob, err := db.NewOutbox(tracking.Config{Stage: "track", Log: quiet, Ledger: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		ob.Enqueue(ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ob.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// damageRow writes a value the ledger cannot read (a field of the wrong
// type, as a newer version's row might have) over acme's gpt-4o row of
// 2026-03-14, in the closed database in dir.
func damageRow(t *testing.T, dir string) {
	t.Helper()
	bdb, err := bolt.Open(filepath.Join(dir, tracking.FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("ledger")).Put([]byte("acme\x002026-03-14\x00openai\x00gpt-4o"), []byte(`{"input_tokens":"ten"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// usageByCustomer is the 2026-03-14 ledger's input tokens per customer.
func usageByCustomer(t *testing.T, db *tracking.DB) (map[string]int64, error) {
	t.Helper()
	rep, err := db.Usage(context.Background(), tracking.Query{From: at("2026-03-14T00:00"), To: at("2026-03-14T00:00"),
		GroupBy: []string{"customer"}})
	if err != nil {
		return nil, err
	}
	got := map[string]int64{}
	for _, r := range rep.Rows {
		got[r.Customer] = r.InputTokens
	}
	return got, nil
}

// TestAnUnreadableLedgerRowIsSetAside: a ledger row that cannot be read
// fails the reports that meet it, naming the row and the way out; the
// next event for it keeps the row as it was in ledger_damaged and starts
// it again, loudly, and every event is persisted and delivered. Before,
// that row failed every commit: all later events waited in memory.
func TestAnUnreadableLedgerRowIsSetAside(t *testing.T) {
	dir := t.TempDir()
	persistAndClose(t, dir, event("acme", "gpt-4o", 10, 1))
	damageRow(t, dir)

	db := open(t, dir)
	_, err := usageByCustomer(t, db)
	if want := `ledger row "acme/2026-03-14/openai/gpt-4o" is damaged`; err == nil || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), "tollgate usage recover") {
		t.Fatalf("a report over the damaged row: %v; want an error saying %q and the way out", err, want)
	}
	var logs logbuf.Buffer
	rec := &recorder{}
	ob := newOutbox(t, db, tracking.Config{Ledger: true, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Sinks: []tracking.SinkConfig{{Name: "rec", Sink: rec.sink()}}})
	ob.Enqueue(event("acme", "gpt-4o", 20, 2))
	ob.Enqueue(event("globex", "gpt-4o", 30, 3))
	waitPersisted(t, ob)
	got, err := usageByCustomer(t, db)
	if err != nil || got["acme"] != 20 || got["globex"] != 30 {
		t.Fatalf("ledger %v, %v; want acme's row started again (20) and globex's (30)", got, err)
	}
	if st := db.Stats(); st.LedgerRowsSetAside != 1 {
		t.Errorf("%d rows set aside, want 1", st.LedgerRowsSetAside)
	}
	if s := logs.String(); !strings.Contains(s, "usage ledger row could not be read") || !strings.Contains(s, "acme/2026-03-14/openai/gpt-4o") {
		t.Errorf("no error log names the row:\n%s", s)
	}
	waitFor(t, func() bool { return rec.count() == 2 })
}

// TestRecoverSetsAsideUnreadableLedgerRows: recover copies the ledger,
// keeps the rows it cannot read in ledger_damaged, and says so; reports
// over the rest then work.
func TestRecoverSetsAsideUnreadableLedgerRows(t *testing.T) {
	dir := t.TempDir()
	persistAndClose(t, dir, event("acme", "gpt-4o", 10, 1), event("globex", "gpt-4o", 30, 3))
	damageRow(t, dir)

	rep, err := tracking.Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ledger: row acme/2026-03-14/openai/gpt-4o could not be read"; len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], want) {
		t.Fatalf("problems %q; want one saying %q", rep.Problems, want)
	}
	db := open(t, dir)
	got, err := usageByCustomer(t, db)
	if err != nil || len(got) != 1 || got["globex"] != 30 {
		t.Fatalf("ledger after recover %v, %v; want globex's row alone", got, err)
	}
	if st := db.Stats(); st.LedgerRowsSetAside != 1 {
		t.Errorf("%d rows set aside, want 1", st.LedgerRowsSetAside)
	}
}

// TestRowKeepsEveryDigit: a report's rows write large counts and amounts
// exactly, as its total does, not rounded through a float64.
func TestRowKeepsEveryDigit(t *testing.T) {
	totals := core.UsageTotals{Requests: 3, InputTokens: 9223372036849776001, TotalTokens: 9223372036854775807, Cost: 9223372036854775807}
	b, err := json.Marshal(tracking.Row{UsageTotals: totals})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"input_tokens":9223372036849776001`, `"total_tokens":9223372036854775807`, `"cost":9223372.036854775807`, `"requests":3`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("row %s: want %s", b, want)
		}
	}
}
