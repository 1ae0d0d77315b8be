package sdk

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostRequest is a request document as the host writes it (fields in the
// host's order, body last).
const hostRequest = `{"hook":"request","id":"req-1","provider":"openai","operation":"chat.completions",` +
	`"upstream":"primary","model":"gpt-4o","stream":true,"customer":"acme","metadata":{"team":"ml","tier":"gold"},` +
	`"headers":{"User-Agent":["test"],"X-Multi":["a","b"]},` +
	`"body":{"model":"gpt-4o","messages":[{"role":"user","content":"hi \"there\" {[}]"}]}}`

// oracleRequest is the request document decoded with encoding/json: what
// the hand-written decoder must agree with.
type oracleRequest struct {
	ID        string              `json:"id"`
	Provider  string              `json:"provider"`
	Operation string              `json:"operation"`
	Upstream  string              `json:"upstream"`
	Model     string              `json:"model"`
	Stream    bool                `json:"stream"`
	Customer  string              `json:"customer"`
	Metadata  map[string]string   `json:"metadata"`
	Headers   map[string][]string `json:"headers"`
	Body      json.RawMessage     `json:"body"`
	BodyText  string              `json:"body_text"`
}

// checkRequest decodes doc with decodeRequest and with encoding/json and
// compares every field and accessor.
func checkRequest(t *testing.T, doc string) *Request {
	t.Helper()
	var want oracleRequest
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatalf("the test document is not valid: %v", err)
	}
	r := new(Request)
	callSeq++
	if err := decodeRequest([]byte(doc), r); err != nil {
		t.Fatalf("decodeRequest: %v", err)
	}
	got := oracleRequest{ID: r.ID, Provider: r.Provider, Operation: r.Operation, Upstream: r.Upstream,
		Model: r.Model, Stream: r.Stream, Customer: r.Customer, Metadata: r.Metadata(), Headers: r.Headers(),
		Body: r.Body(), BodyText: r.BodyText()}
	if bytes.Equal(want.Body, []byte("null")) {
		want.Body = nil
	}
	if len(want.Metadata) == 0 {
		want.Metadata = map[string]string{}
	}
	if len(want.Headers) == 0 {
		want.Headers = map[string][]string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%+v\nwant (encoding/json)\n%+v", got, want)
	}
	for k, v := range want.Metadata {
		if g := r.Meta(k); g != v {
			t.Errorf("Meta(%q) = %q, want %q", k, g, v)
		}
	}
	for k, vs := range want.Headers {
		if g := r.Header(strings.ToLower(k)); g != vs[0] {
			t.Errorf("Header(%q) = %q, want %q", strings.ToLower(k), g, vs[0])
		}
	}
	return r
}

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"host order", hostRequest},
		{"body first", `{"body":{"a":[1,2,{"b":"}"}]},"model":"m","id":"x","metadata":{"k":"v"}}`},
		{"white space", " {\n\t\"id\" : \"x\" ,\r\n \"stream\" :\tfalse , \"metadata\" : { \"k\" : \"v\" } , \"headers\" : { \"A\" : [ \"1\" , \"2\" ] } , \"body\" : [ 1 , 2 ] } \n"},
		{"escapes", `{"id":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","model":"\u0067pt","metadata":{"k\"ey":"v\\al"},"customer":"` + strings.Repeat("long ", 20) + `\"q\""}`},
		{"invalid surrogate", `{"id":"\ud83d x","model":"\udc00"}`},
		{"nulls", `{"id":null,"model":null,"stream":null,"metadata":null,"headers":null,"body":null}`},
		{"body text", `{"hook":"request","id":"x","provider":"","operation":"","upstream":"","model":"","stream":false,"customer":"","metadata":{},"headers":{},"body":null,"body_text":"not json \"quoted\""}`},
		{"unknown fields", `{"future":{"nested":[{"a":"]"},null,true,1.5e3]},"id":"x","later":"y\\","n":-12,"model":"m"}`},
		{"empty", `{}`},
		{"scalar body", `{"id":"x","body":"just a string"}`},
		{"long strings", `{"id":"` + strings.Repeat("i", 100) + `","model":"` + strings.Repeat("\\\\", 40) + `"}`},
		{"unicode", `{"customer":"Zoë – 日本語","metadata":{"ключ":"значение"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRequest(t, tt.doc) })
	}
}

func TestDecodeRequestMalformed(t *testing.T) {
	for _, doc := range []string{
		``, `[]`, `{`, `{"id"`, `{"id":}`, `{"id":"x"`, `{"id":"x",}`, `{"id":"unterminated}`,
		`{"stream":"yes"}`, `{"id":"x"} trailing`, `{"metadata":{"k":1}}`, `{"headers":{"k":"v"}}`,
		`{"body":{"a":1}`, `{"id" "x"}`, `{id:"x"}`,
	} {
		r := new(Request)
		callSeq++
		err := decodeRequest([]byte(doc), r)
		if err == nil {
			// Values inside the lazily read parts are checked when read.
			if doc == `{"metadata":{"k":1}}` || doc == `{"headers":{"k":"v"}}` {
				continue
			}
			t.Errorf("decodeRequest(%q) = nil error, want one", doc)
		}
	}
}

// TestRequestOutlivesTheBuffer checks that what a hook reads stays valid
// when the host writes the next document into the same buffer.
func TestRequestOutlivesTheBuffer(t *testing.T) {
	buf := []byte(hostRequest)
	r := new(Request)
	callSeq++
	if err := decodeRequest(buf, r); err != nil {
		t.Fatal(err)
	}
	id, model, meta, body := r.ID, r.Model, r.Metadata(), r.Body()
	team, ua := r.Meta("team"), r.Header("user-agent")
	for i := range buf {
		buf[i] = 'x'
	}
	if id != "req-1" || model != "gpt-4o" || meta["team"] != "ml" || team != "ml" || ua != "test" ||
		!strings.HasPrefix(string(body), `{"model":"gpt-4o"`) {
		t.Fatalf("values changed with the buffer: id %q model %q meta %v team %q ua %q body %s", id, model, meta, team, ua, body)
	}
	if r.Meta("tier") != "gold" {
		t.Fatalf("Meta after the buffer changed = %q, want gold (tags are owned)", r.Meta("tier"))
	}
}

// TestBodyAfterTheHook checks that reading a body the hook did not read,
// after the hook returned, panics instead of returning the next call's
// bytes.
func TestBodyAfterTheHook(t *testing.T) {
	r := new(Request)
	callSeq++
	if err := decodeRequest([]byte(hostRequest), r); err != nil {
		t.Fatal(err)
	}
	callSeq++ // the next call
	defer func() {
		if recover() == nil {
			t.Fatal("Body after the hook returned did not panic")
		}
	}()
	r.Body()
}

func TestDecodeResponse(t *testing.T) {
	doc := `{"hook":"response","request":{"id":"r1","provider":"openai","operation":"chat.completions","upstream":"u","model":"m","stream":false,"customer":"c","metadata":{"team":"ml"}},` +
		`"status":201,"headers":{"Content-Type":["application/json"]},` +
		`"usage":{"input_tokens":12,"output_tokens":30,"total_tokens":42,"cached_input_tokens":2,"cache_write_tokens":3,"reasoning_tokens":5,"usage_estimated":true},"body":{"ok":true}}`
	var r Response
	callSeq++
	if err := decodeResponse([]byte(doc), &r); err != nil {
		t.Fatal(err)
	}
	if r.Request.ID != "r1" || r.Request.Model != "m" || r.Request.Meta("team") != "ml" || r.Status != 201 ||
		r.Header("content-type") != "application/json" || string(r.Body()) != `{"ok":true}` {
		t.Fatalf("decoded %+v, body %s", r, r.Body())
	}
	if want := (Usage{InputTokens: 12, OutputTokens: 30, TotalTokens: 42, CachedInputTokens: 2, CacheWriteTokens: 3, ReasoningTokens: 5, Estimated: true}); r.Usage == nil || *r.Usage != want {
		t.Fatalf("usage = %+v, want %+v", r.Usage, want)
	}
	var text Response
	callSeq++
	if err := decodeResponse([]byte(`{"request":{},"status":502,"usage":null,"body":null,"body_text":"upstream \"down\""}`), &text); err != nil {
		t.Fatal(err)
	}
	if text.Usage != nil || text.Body() != nil || text.BodyText() != `upstream "down"` {
		t.Fatalf("usage %v body %q text %q", text.Usage, text.Body(), text.BodyText())
	}
}

func TestDecodeStreamEvent(t *testing.T) {
	doc := `{"hook":"stream_event","request":{"id":"r1","model":"m","stream":true,"metadata":{}},"event":"message","data":"{\"choices\":[{\"delta\":{\"content\":\"hi\\n\"}}]}"}`
	var e StreamEvent
	callSeq++
	if err := decodeStreamEvent([]byte(doc), &e); err != nil {
		t.Fatal(err)
	}
	if e.Request.ID != "r1" || !e.Request.Stream || e.Event != "message" || e.Data != `{"choices":[{"delta":{"content":"hi\n"}}]}` {
		t.Fatalf("decoded %+v", e)
	}
	if m := e.Request.Metadata(); len(m) != 0 {
		t.Fatalf("metadata = %v, want empty", m)
	}
}

func TestHookName(t *testing.T) {
	for doc, want := range map[string]string{
		`{"hook":"request","id":"x"}`:              "request",
		`{"id":"x","body":{"a":1},"hook":"usage"}`: "usage",
		` { "hook" : "stream_event" }`:             "stream_event",
	} {
		got, err := hookName([]byte(doc))
		if err != nil || got != want {
			t.Errorf("hookName(%s) = %q, %v; want %q", doc, got, err, want)
		}
	}
	if _, err := hookName([]byte(`{"id":"x"}`)); err == nil {
		t.Error("hookName without a hook field: no error")
	}
}

// TestAppendAction checks the hand-written answer encoder against
// encoding/json: both must decode to the same document.
func TestAppendAction(t *testing.T) {
	model, up, data := "gpt-4o-mini", "secondary", "line \"1\"\nline 2 \x01 \xff é"
	tests := []struct {
		name string
		a    Action
	}{
		{"continue", Continue()},
		{"deny", Deny(451, "blocked", `no "quotes" \ here`)},
		{"respond", Respond(200, []byte(`{"ok":true,"list":[1,2]}`))},
		{"fail", Fail("reason %d", 7)},
		{"drop", Drop()},
		{"changes", Action{Action: "continue", Body: json.RawMessage(`{"model":"x"}`), Model: &model, Upstream: &up,
			Metadata: map[string]string{"a": "1", "b\"": "2\\"}, Headers: map[string]string{"X-A": "v", "X-Gone": ""}}},
		{"data", Action{Action: "continue", Data: &data}},
		{"deliveries", Action{Action: "continue", Deliveries: []delivery{{Dest: "https://x.example/in", Payload: []byte("{\"n\":1}")}, {Sink: "audit", Payload: []byte{0, 1, 2, 255}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendAction(nil, tt.a)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("appendAction wrote invalid JSON %s: %v", got, err)
			}
			json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("appendAction:\n%s\nencoding/json:\n%s", got, want)
			}
		})
	}
	if _, err := appendAction(nil, Respond(200, []byte("not json"))); err == nil {
		t.Error("a body that is not JSON was encoded")
	}
}

// TestDispatch runs hooks through dispatch as a plugin does: a plain
// continue answers nothing, changes answer a document, a panic answers
// fail, and a body that is not JSON fails with a message.
func TestDispatch(t *testing.T) {
	defer func() { onRequest = nil }()
	tests := []struct {
		name string
		hook func(*Request) Action
		want map[string]any // nil: no answer document
	}{
		{"plain continue", func(r *Request) Action { return Continue() }, nil},
		{"reads only", func(r *Request) Action {
			if r.Model != "gpt-4o" || r.Meta("team") != "ml" || r.Header("User-Agent") != "test" {
				return Fail("read %q %q %q", r.Model, r.Meta("team"), r.Header("User-Agent"))
			}
			return Continue()
		}, nil},
		{"set model and tag", func(r *Request) Action {
			r.SetModel("small")
			r.SetMetadata("routed", "yes")
			if r.Meta("routed") != "yes" || r.Metadata()["team"] != "ml" {
				return Fail("tags: %v", r.Metadata())
			}
			return Continue()
		}, map[string]any{"action": "continue", "model": "small", "metadata": map[string]any{"routed": "yes"}}},
		{"set body", func(r *Request) Action {
			r.SetBody([]byte(`{"model":"x"}`))
			if string(r.Body()) != `{"model":"x"}` {
				return Fail("Body after SetBody = %s", r.Body())
			}
			return Continue()
		}, map[string]any{"action": "continue", "body": map[string]any{"model": "x"}}},
		{"panic", func(r *Request) Action { panic("boom") }, map[string]any{"action": "fail", "message": "panic: boom"}},
		{"bad body", func(r *Request) Action { return Respond(200, []byte("plain text")) },
			map[string]any{"action": "fail", "message": "sdk: the respond answer: " + errBodyNotJSON.Error()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			onRequest = tt.hook
			out := dispatch(hookRequest, []byte(hostRequest), nil)
			if tt.want == nil {
				if len(out) != 0 {
					t.Fatalf("answer %s, want none", out)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("answer %q: %v", out, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("answer %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeRequest checks the decoder against encoding/json on any valid
// document, and that it never panics on an invalid one.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(hostRequest)
	f.Add(`{"id":"a\"b","metadata":{"k":"v"},"body":[1,{"x":"]"}]}`)
	f.Add(`{"body":null,"body_text":"t","model":"\u00e9"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var want oracleRequest
		valid := json.Unmarshal([]byte(doc), &want) == nil && json.Valid([]byte(doc)) &&
			// Where encoding/json is more lenient than the host needs:
			// field names in another case, invalid UTF-8 (which it
			// replaces; the host never sends it).
			utf8.ValidString(doc) && !foldedKey(doc)
		r := new(Request)
		callSeq++
		err := decodeRequest([]byte(doc), r)
		if !valid {
			if err == nil {
				// The decoder trusts the inside of values it skips or reads
				// lazily; reading them must not panic either.
				r.Metadata()
				r.Headers()
				r.Body()
				r.BodyText()
			}
			return
		}
		if err != nil {
			t.Fatalf("decodeRequest(%q): %v; encoding/json accepts it", doc, err)
		}
		if r.ID != want.ID || r.Model != want.Model || r.Provider != want.Provider || r.Customer != want.Customer ||
			r.Operation != want.Operation || r.Upstream != want.Upstream || r.Stream != want.Stream {
			t.Fatalf("decodeRequest(%q) = %+v, encoding/json %+v", doc, r.CallInfo, want)
		}
		if m := r.Metadata(); len(m) != len(want.Metadata) || (len(m) > 0 && !maps.Equal(m, want.Metadata)) {
			t.Fatalf("metadata %v, encoding/json %v", m, want.Metadata)
		}
		if bytes.Equal(want.Body, []byte("null")) {
			want.Body = nil
		}
		if !bytes.Equal(r.Body(), want.Body) || r.BodyText() != want.BodyText {
			t.Fatalf("body %q text %q, encoding/json %q %q", r.Body(), r.BodyText(), want.Body, want.BodyText)
		}
	})
}

// foldedKey reports a top-level key that names a field in another case,
// which encoding/json matches and the decoder does not.
func foldedKey(doc string) bool {
	var m map[string]json.RawMessage
	json.Unmarshal([]byte(doc), &m)
	for k := range m {
		for _, f := range []string{"id", "provider", "operation", "upstream", "model", "stream", "customer", "metadata", "headers", "body", "body_text"} {
			if k != f && strings.EqualFold(k, f) {
				return true
			}
		}
	}
	return false
}
