package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// bodyModelFormat is fakeFormat with the model read from the body.
type bodyModelFormat struct{ fakeFormat }

func (bodyModelFormat) Parse(r *core.Request) { r.Model = string(r.Body) }

func boundsEngine(rec *outcomes) *core.Engine {
	p := core.NewPipeline([]core.Stage{core.StageFunc(func(context.Context, *core.Request, core.HandlerFunc) (*core.Response, error) {
		return &core.Response{Status: 200}, nil
	})}, []core.Completer{rec}, nil)
	return core.New(core.WithPipeline(p), core.WithFormats(bodyModelFormat{}),
		core.WithUpstream(core.NewUpstream("u", "fake", nil, "", "")), core.WithCustomerHeader("X-Customer", false))
}

// TestCustomerIDAndModelAreBounded: a customer id or model name too long or
// with a control character is refused with a 400 that names where it came
// from, and the refusal's usage event does not carry it (it once made
// every later event wait: the ledger's store refuses keys over 32 KiB).
func TestCustomerIDAndModelAreBounded(t *testing.T) {
	long := strings.Repeat("c", core.MaxCustomerIDBytes+1)
	for _, tt := range []struct {
		name, customer, model string
		code, msg             string
	}{
		{"customer at the limit", strings.Repeat("c", core.MaxCustomerIDBytes), "m", "", ""},
		{"model at the limit", "acme", strings.Repeat("m", core.MaxModelBytes), "", ""},
		{"customer over the limit", long, "m", "invalid_customer",
			"the X-Customer header is 257 bytes long; a customer id is at most 256"},
		{"model over the limit", "acme", "gpt-" + strings.Repeat("m", 40000), "invalid_model",
			"the model is 40004 bytes long; a model name is at most 256"},
		{"control character in the model", "acme", "gpt-4o\x00x", "invalid_model",
			"the model has a control character (U+0000) at byte 6; a model name may not"},
		{"customer not UTF-8", "acme\xff", "m", "invalid_customer",
			"the X-Customer header has a byte that is not UTF-8 (0xff) at byte 4; a customer id must be UTF-8 text"},
		{"customer in Latin-1", "M\xfcller", "m", "invalid_customer",
			"the X-Customer header has a byte that is not UTF-8 (0xfc) at byte 1; a customer id must be UTF-8 text"},
		{"customer with U+FFFD itself", "acme\uFFFD", "m", "", ""},
		{"customer in UTF-8", "Müller GmbH", "m", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &outcomes{}
			srv := httptest.NewServer(boundsEngine(rec).Handler())
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/op", strings.NewReader(tt.model))
			req.Header.Set("X-Customer", tt.customer)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(rec.all) != 1 {
				t.Fatalf("%d outcomes, want 1", len(rec.all))
			}
			o := rec.all[0]
			if tt.code == "" {
				if resp.StatusCode != 200 || o.Request.Customer != tt.customer || o.Request.Model != tt.model {
					t.Fatalf("status %d, outcome customer %d bytes model %d bytes: want 200 with both kept",
						resp.StatusCode, len(o.Request.Customer), len(o.Request.Model))
				}
				return
			}
			if o.Err == nil {
				t.Fatalf("status %d, no error; want 400 %q %q", resp.StatusCode, tt.code, tt.msg)
			}
			ae := core.AsError(o.Err)
			if resp.StatusCode != 400 || ae.Code != tt.code || ae.Message != tt.msg {
				t.Fatalf("status %d, error %q %q; want 400 %q %q", resp.StatusCode, ae.Code, ae.Message, tt.code, tt.msg)
			}
			if len(o.Request.Customer) > core.MaxCustomerIDBytes || len(o.Request.Model) > core.MaxModelBytes || strings.ContainsRune(o.Request.Model, 0) {
				t.Errorf("the refusal's event carries the refused value (customer %d bytes, model %q…)", len(o.Request.Customer), o.Request.Model[:min(10, len(o.Request.Model))])
			}
		})
	}
}

// TestCustomerHeaderSentTwice: two different values of the customer
// header are refused, naming both (which one to bill is the client's to
// say); the same value twice is one customer.
func TestCustomerHeaderSentTwice(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values []string
		want   string // the refusal's message; "" for a 200
	}{
		{"different", []string{"acme", "globex"},
			`the X-Customer header is sent more than once with different values ("acme" and "globex"): a call is billed to one customer`},
		{"different third", []string{"acme", "acme", "globex"},
			`the X-Customer header is sent more than once with different values ("acme" and "globex"): a call is billed to one customer`},
		{"the same twice", []string{"acme", "acme"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &outcomes{}
			srv := httptest.NewServer(boundsEngine(rec).Handler())
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/op", strings.NewReader("m"))
			req.Header["X-Customer"] = tt.values
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			o := rec.all[0]
			if tt.want == "" {
				if resp.StatusCode != 200 || o.Request.Customer != "acme" {
					t.Fatalf("status %d, customer %q: want 200 billed to acme", resp.StatusCode, o.Request.Customer)
				}
				return
			}
			ae := core.AsError(o.Err)
			if resp.StatusCode != 400 || ae == nil || ae.Code != "invalid_customer" || ae.Message != tt.want {
				t.Fatalf("status %d, error %v; want 400 invalid_customer %q", resp.StatusCode, o.Err, tt.want)
			}
			if o.Request.Customer != "" {
				t.Errorf("the refusal's event is billed to %q", o.Request.Customer)
			}
		})
	}
}

// TestCustomerIDFromTheLibraryIsChecked: core.WithCustomer's id is checked
// as the header's is, and the error says where it came from.
func TestCustomerIDFromTheLibraryIsChecked(t *testing.T) {
	rec := &outcomes{}
	ctx := core.WithCustomer(context.Background(), "acme\x00globex")
	_, err := boundsEngine(rec).Do(ctx, &core.Request{Path: "/op", Body: []byte("m")})
	want := "the customer id has a control character (U+0000) at byte 4; a customer id may not"
	if ae := core.AsError(err); !errors.Is(err, core.ErrValidation) || ae.Code != "invalid_customer" || ae.Message != want {
		t.Fatalf("got %v, want invalid_customer %q", err, want)
	}
	if c := rec.all[0].Request.Customer; c != "" {
		t.Errorf("the refusal's event carries customer %q", c)
	}
}

// TestMetadataIsBounded: tags out of bounds are refused with a 400 that
// names the header they came from, and the refusal's usage event carries
// none of them (a megabyte of tags on each call would crowd every other
// customer's events out of the outbox's shared backlog).
func TestMetadataIsBounded(t *testing.T) {
	tags := func(n int) http.Header {
		h := http.Header{}
		for i := range n {
			h.Set(fmt.Sprintf("X-Tollgate-Meta-T%d", i), "x")
		}
		return h
	}
	one := func(name, value string) http.Header { return http.Header{name: {value}} }
	longName := "X-Tollgate-Meta-" + strings.Repeat("a", core.MaxMetadataNameBytes+1)
	for _, tt := range []struct {
		name   string
		header http.Header
		msg    string
	}{
		{"value at the limit", one("X-Tollgate-Meta-Note", strings.Repeat("v", core.MaxMetadataValueBytes)), ""},
		{"as many tags as allowed", tags(core.MaxMetadataTags), ""},
		{"value over the limit", one("X-Tollgate-Meta-Note", strings.Repeat("v", 600000)),
			"the X-Tollgate-Meta-Note header is 600000 bytes long; a metadata value is at most 512"},
		{"name over the limit", one(longName, "x"),
			"the tag name of the " + http.CanonicalHeaderKey(longName)[:48] + "… header is 65 bytes long; a metadata name is at most 64"},
		{"too many tags", tags(core.MaxMetadataTags + 1), "the call carries 33 metadata tags; at most 32"},
		{"value not UTF-8", one("X-Tollgate-Meta-Team", "ml\tops\xfe"),
			"the X-Tollgate-Meta-Team header has a byte that is not UTF-8 (0xfe) at byte 6; a metadata value must be UTF-8 text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &outcomes{}
			srv := httptest.NewServer(boundsEngine(rec).Handler())
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/op", strings.NewReader("m"))
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			o := rec.all[0]
			if tt.msg == "" {
				if resp.StatusCode != 200 || len(o.Request.Metadata) != len(tt.header) {
					t.Fatalf("status %d, %d tags; want 200 with all %d", resp.StatusCode, len(o.Request.Metadata), len(tt.header))
				}
				return
			}
			if o.Err == nil {
				t.Fatalf("status %d, no error; want 400 invalid_metadata %q", resp.StatusCode, tt.msg)
			}
			ae := core.AsError(o.Err)
			if resp.StatusCode != 400 || ae.Code != "invalid_metadata" || ae.Message != tt.msg {
				t.Fatalf("status %d, error %q %q; want 400 invalid_metadata %q", resp.StatusCode, ae.Code, ae.Message, tt.msg)
			}
			if len(o.Request.Metadata) != 0 {
				t.Errorf("the refusal's event carries %d tags", len(o.Request.Metadata))
			}
		})
	}
}

// TestMetadataFromTheLibraryIsChecked: core.WithMetadata's tags are
// bounded as the headers' are; the error names the tag.
func TestMetadataFromTheLibraryIsChecked(t *testing.T) {
	for _, tt := range []struct{ name, value, msg string }{
		{"note", strings.Repeat("ü", 300), `the value of metadata tag "note" is 600 bytes long; a metadata value is at most 512`},
		{"a\x00b", "x", `the metadata name "a\x00b" has a control character (U+0000) at byte 1; a metadata name may not`},
		{"team\xff", "x", `the metadata name "team\xff" has a byte that is not UTF-8 (0xff) at byte 4; a metadata name must be UTF-8 text`},
		{"team", "\xffx", `the value of metadata tag "team" has a byte that is not UTF-8 (0xff) at byte 0; a metadata value must be UTF-8 text`},
		{strings.Repeat("n", 70), "x", `the metadata name "` + strings.Repeat("n", 32) + `"… is 70 bytes long; a metadata name is at most 64`},
	} {
		rec := &outcomes{}
		ctx := core.WithMetadata(context.Background(), tt.name, tt.value)
		_, err := boundsEngine(rec).Do(ctx, &core.Request{Path: "/op", Body: []byte("m")})
		if !errors.Is(err, core.ErrValidation) || core.AsError(err).Code != "invalid_metadata" || core.AsError(err).Message != tt.msg {
			t.Errorf("got %v, want invalid_metadata %q", err, tt.msg)
		}
	}
}

// TestEchoedClientTextIsClipped: errors that quote what the client sent
// (a path, an upstream's name) quote a bounded part of it, to the client
// and in the usage event.
func TestEchoedClientTextIsClipped(t *testing.T) {
	rec := &outcomes{}
	srv := httptest.NewServer(boundsEngine(rec).Handler())
	defer srv.Close()
	do := func(path, upstream string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader("m"))
		if upstream != "" {
			req.Header.Set("X-Tollgate-Upstream", upstream)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	long := strings.Repeat("x", 200000)
	if code, body := do("/"+long, ""); code != 404 || len(body) > 1024 || !strings.Contains(body, "tollgate does not serve POST /xxx") {
		t.Errorf("unknown path: %d, %d bytes: %.200s", code, len(body), body)
	}
	if code, body := do("/op", long); code != 404 || len(body) > 1024 || !strings.Contains(body, "the X-Tollgate-Upstream header names upstream \"xxx") {
		t.Errorf("unknown upstream: %d, %d bytes: %.200s", code, len(body), body)
	}
	if len(rec.all) != 1 {
		t.Fatalf("%d outcomes, want the unknown upstream's", len(rec.all))
	}
	if ev := core.NewUsageEvent(rec.all[0]); len(ev.Error) > 1024 {
		t.Errorf("the event's error is %d bytes", len(ev.Error))
	}
}

func TestCheckCustomerID(t *testing.T) {
	for id, ok := range map[string]bool{
		"":                        true,
		"acme":                    true,
		"org:team/user@mail.test": true,
		"ünïcødé":                 true,
		"tab\there":               false,
		"line\nbreak":             false,
		"del\x7f":                 false,
		strings.Repeat("x", 257):  false,
	} {
		if err := core.CheckCustomerID(id); (err == nil) != ok {
			t.Errorf("CheckCustomerID(%q) = %v, want ok %v", id, err, ok)
		}
	}
}

// BenchmarkCheckCustomerID is what the edge's check of a typical customer
// id costs each call (the model's check is the same scan).
func BenchmarkCheckCustomerID(b *testing.B) {
	for b.Loop() {
		if core.CheckCustomerID("org-4f1c:team-search/user-1234") != nil {
			b.Fatal("refused")
		}
	}
}

// BenchmarkCheckMetadata is what the edge's check of a call's tags costs:
// a virtual key's two and two from headers.
func BenchmarkCheckMetadata(b *testing.B) {
	m := map[string]string{"team": "search", "key_id": "key_01J9Z4", "env": "prod", "feature": "autocomplete"}
	for b.Loop() {
		if core.CheckMetadata(m) != nil {
			b.Fatal("refused")
		}
	}
}
