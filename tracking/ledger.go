package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/core"
)

// The ledger keeps one row of totals per customer, UTC day, provider and
// model, keyed "customer\x00YYYY-MM-DD\x00provider\x00model" so that one
// customer's days are contiguous and in order. It is updated in the same
// transaction that persists the events, so it counts each accepted event
// exactly once, whatever happens to its delivery.

const dayLayout = "2006-01-02"

// Grouping dimensions of a [Query].
const (
	GroupCustomer = "customer"
	GroupDay      = "day"
	GroupProvider = "provider"
	GroupModel    = "model"
)

var groupDims = []string{GroupCustomer, GroupDay, GroupProvider, GroupModel}

// ledgerKey is one ledger row's identity.
type ledgerKey struct{ customer, day, provider, model string }

func (k ledgerKey) bytes() []byte {
	return []byte(k.customer + "\x00" + k.day + "\x00" + k.provider + "\x00" + k.model)
}

func parseLedgerKey(b []byte) (ledgerKey, bool) {
	parts := strings.SplitN(string(b), "\x00", 4)
	if len(parts) != 4 {
		return ledgerKey{}, false
	}
	return ledgerKey{parts[0], parts[1], parts[2], parts[3]}, true
}

// maxKeyPart bounds each part of a ledger key. The engine refuses longer
// customer ids and models (core.MaxCustomerIDBytes), but an event can come
// from elsewhere (a stage that rewrites the model, a library caller), and
// bbolt refuses a key over 32 KiB: that one event would fail every commit,
// and the events behind it would wait in memory until they were dropped.
const maxKeyPart = 1024

// keyPart is s as a part of a ledger key: a NUL, the parts' separator,
// becomes U+FFFD, and a part over maxKeyPart bytes is cut (at a character)
// and marked with "…". Parts the engine lets through are unchanged.
func keyPart(s string) string {
	if len(s) <= maxKeyPart && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) > maxKeyPart {
		s = strings.ToValidUTF8(s[:maxKeyPart-len("…")], "") + "…"
	}
	return s
}

// eventTotals is what one event adds to the ledger.
func eventTotals(ev *core.UsageEvent) core.UsageTotals {
	t := core.UsageTotals{Requests: 1, InputTokens: ev.InputTokens, OutputTokens: ev.OutputTokens,
		TotalTokens: ev.TotalTokens, CachedInputTokens: ev.CachedInputTokens, CacheWriteTokens: ev.CacheWriteTokens,
		ReasoningTokens: ev.ReasoningTokens}
	if ev.Cost != nil {
		t.Cost = *ev.Cost
	} else if ev.TotalTokens > 0 {
		t.Unpriced = 1
	}
	if ev.Status != core.StatusOK {
		t.Errors = 1
	}
	return t
}

// recordLedger adds events to the ledger inside the outbox's transaction.
// A row it cannot read is set aside (setAside) and starts again from these
// events: one bad row must not fail every commit, which would leave every
// later event waiting in memory. aside says which rows, and why.
func recordLedger(tx *bolt.Tx, events []*core.UsageEvent) (aside []string, err error) {
	deltas := map[ledgerKey]*core.UsageTotals{}
	var order []ledgerKey
	var day string // a batch's events share a day: it is formatted once
	var dayStart, dayEnd time.Time
	for _, ev := range events {
		if t := ev.Timestamp; t.Before(dayStart) || !t.Before(dayEnd) {
			dayStart = t.UTC().Truncate(24 * time.Hour)
			dayEnd, day = dayStart.Add(24*time.Hour), dayStart.Format(dayLayout)
		}
		k := ledgerKey{keyPart(ev.CustomerID), day, keyPart(ev.Provider), keyPart(ev.Model)}
		d, ok := deltas[k]
		if !ok {
			d = &core.UsageTotals{}
			deltas[k] = d
			order = append(order, k)
		}
		d.Add(eventTotals(ev))
	}
	b := tx.Bucket(bucketLedger)
	for _, k := range order {
		key := k.bytes()
		var t core.UsageTotals
		if v := b.Get(key); v != nil {
			if bad := json.Unmarshal(v, &t); bad != nil {
				if err := setAside(tx, key, v); err != nil {
					return nil, err
				}
				aside = append(aside, fmt.Sprintf("%s: %v", rowName(key), bad))
				t = core.UsageTotals{}
			}
		}
		t.Add(*deltas[k])
		v, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		if err := b.Put(key, v); err != nil {
			return nil, err
		}
	}
	return aside, nil
}

// setAside keeps an unreadable ledger row's value, as it was, in the
// ledger_damaged bucket under "key\x00sequence", for whoever repairs it;
// the caller then writes the row afresh or deletes it.
func setAside(tx *bolt.Tx, key, v []byte) error {
	b := tx.Bucket(bucketLedgerAside)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(append(append(bytes.Clone(key), 0), u64(seq)...), bytes.Clone(v))
}

// rowName is a ledger key as people read it: customer/day/provider/model.
func rowName(key []byte) string { return strings.ReplaceAll(string(key), "\x00", "/") }

// damaged is the error of a read that met an unreadable ledger row.
func damaged(key []byte, err error) error {
	return fmt.Errorf("tracking: ledger row %q is damaged: %w; the next usage event for it sets it aside, "+
		"as `tollgate usage recover` does (docs/operations.md)", rowName(key), err)
}

// Query selects ledger rows.
type Query struct {
	// Customer limits the report to one customer; empty means all.
	Customer string `json:"customer,omitempty"`
	// From and To bound the UTC days, both inclusive; zero means unbounded.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// GroupBy lists the dimensions rows are split by: customer, day,
	// provider, model. Empty gives one total.
	GroupBy []string `json:"group_by"`
}

// Row is the totals of one group.
type Row struct {
	Customer string
	Day      string
	Provider string
	Model    string
	core.UsageTotals
	groupBy []string
}

// MarshalJSON writes the grouped dimensions and the totals, flat.
func (r Row) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	b, _ := json.Marshal(r.UsageTotals)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // a float64 would round counts past 2⁵³
	d.Decode(&m)
	for _, d := range r.groupBy {
		switch d {
		case GroupCustomer:
			m["customer"] = r.Customer
		case GroupDay:
			m["day"] = r.Day
		case GroupProvider:
			m["provider"] = r.Provider
		case GroupModel:
			m["model"] = r.Model
		}
	}
	return json.Marshal(m)
}

// Report is the answer to a [Query].
type Report struct {
	Query Query            `json:"query"`
	Rows  []Row            `json:"rows"`
	Total core.UsageTotals `json:"total"`
}

// ErrBadQuery wraps a query the ledger cannot answer.
var ErrBadQuery = errors.New("tracking: bad usage query")

// Usage answers a ledger query.
func (db *DB) Usage(ctx context.Context, q Query) (*Report, error) {
	for _, g := range q.GroupBy {
		if !slices.Contains(groupDims, g) {
			return nil, fmt.Errorf("%w: group_by: unknown dimension %q (want %s)", ErrBadQuery, g, strings.Join(groupDims, ", "))
		}
	}
	from, to := "", "\xff"
	if !q.From.IsZero() {
		from = q.From.UTC().Format(dayLayout)
	}
	if !q.To.IsZero() {
		to = q.To.UTC().Format(dayLayout)
	}
	if from > to {
		return nil, fmt.Errorf("%w: from (%s) is after to (%s)", ErrBadQuery, from, to)
	}
	rep := &Report{Query: q, Rows: []Row{}}
	groups := map[ledgerKey]int{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLedger).Cursor()
		var k, v []byte
		prefix := []byte(nil)
		if q.Customer != "" {
			prefix = []byte(q.Customer + "\x00")
			k, v = c.Seek(append(bytes.Clone(prefix), from...))
		} else {
			k, v = c.First()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			key, ok := parseLedgerKey(k)
			if !ok || key.day < from || key.day > to {
				if q.Customer != "" && key.day > to {
					break
				}
				continue
			}
			var t core.UsageTotals
			if err := json.Unmarshal(v, &t); err != nil {
				return damaged(k, err)
			}
			rep.Total.Add(t)
			g := groupKey(key, q.GroupBy)
			i, ok := groups[g]
			if !ok {
				i = len(rep.Rows)
				groups[g] = i
				rep.Rows = append(rep.Rows, Row{Customer: g.customer, Day: g.day, Provider: g.provider, Model: g.model, groupBy: q.GroupBy})
			}
			rep.Rows[i].UsageTotals.Add(t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rep.Rows, func(a, b Row) int {
		return strings.Compare(a.Customer+"\x00"+a.Day+"\x00"+a.Provider+"\x00"+a.Model,
			b.Customer+"\x00"+b.Day+"\x00"+b.Provider+"\x00"+b.Model)
	})
	return rep, nil
}

// groupKey keeps the dimensions grouped by and blanks the rest.
func groupKey(k ledgerKey, by []string) ledgerKey {
	var g ledgerKey
	for _, d := range by {
		switch d {
		case GroupCustomer:
			g.customer = k.customer
		case GroupDay:
			g.day = k.day
		case GroupProvider:
			g.provider = k.provider
		case GroupModel:
			g.model = k.model
		}
	}
	return g
}

// Spend reports a customer's totals for the UTC day and month of at. It
// implements [core.SpendReader].
func (db *DB) Spend(ctx context.Context, customer string, at time.Time) (day, month core.UsageTotals, err error) {
	at = at.UTC()
	today := at.Format(dayLayout)
	prefix := []byte(customer + "\x00" + at.Format("2006-01-"))
	err = db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLedger).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			key, ok := parseLedgerKey(k)
			if !ok {
				continue
			}
			var t core.UsageTotals
			if err := json.Unmarshal(v, &t); err != nil {
				return damaged(k, err)
			}
			month.Add(t)
			if key.day == today {
				day.Add(t)
			}
		}
		return nil
	})
	return day, month, err
}

// SpendReader returns a [core.SpendReader] over the ledger in dir, for a
// budget stage built before the track stage opens the database. Each call
// reads the database this process has open for dir; with none open, Spend
// returns an error saying so.
func SpendReader(dir string) core.SpendReader { return lazySpend(dir) }

type lazySpend string

func (d lazySpend) Spend(ctx context.Context, customer string, at time.Time) (core.UsageTotals, core.UsageTotals, error) {
	db, ok := lookup(string(d))
	if !ok {
		return core.UsageTotals{}, core.UsageTotals{}, fmt.Errorf("tracking: no usage ledger is open for %s: add a track stage to the pipeline", string(d))
	}
	return db.Spend(ctx, customer, at)
}

var _ core.SpendReader = (*DB)(nil)
