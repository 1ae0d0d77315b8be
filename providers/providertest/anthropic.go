package providertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// anthropicWire serves the Anthropic Messages wire format.
type anthropicWire struct {
	p *Provider
}

// anthropicModels are the models GET /v1/models lists in Anthropic's format.
var anthropicModels = []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"}

func isAnthropicPath(path string) bool {
	path = stripV1(path)
	return path == "/messages" || strings.HasPrefix(path, "/messages/") || path == "/complete"
}

func (a anthropicWire) serve(w http.ResponseWriter, r *http.Request, c *call) {
	path := stripV1(r.URL.Path)
	var method string
	var handle func(http.ResponseWriter, *http.Request, *call)
	switch path {
	case "/messages":
		method, handle = http.MethodPost, a.messages
	case "/messages/count_tokens":
		method, handle = http.MethodPost, a.countTokens
	case "/models":
		method, handle = http.MethodGet, a.listModels
	default:
		a.writeError(w, http.StatusNotFound, "not_found_error", "Not Found")
		return
	}
	if r.Method != method {
		a.writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", fmt.Sprintf("Method Not Allowed: %s %s", r.Method, r.URL.Path))
		return
	}
	if key := a.p.cfg.apiKey; key != "" && r.Header.Get("X-Api-Key") != key && r.Header.Get("Authorization") != "Bearer "+key {
		a.writeError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		a.writeError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	handle(w, r, c)
}

// anthropicErrorTypes are Anthropic's error types by status.
var anthropicErrorTypes = map[int]string{
	400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
	413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error",
}

// writeStatus answers as Anthropic does for status: 529 is overloaded_error.
func (a anthropicWire) writeStatus(w http.ResponseWriter, status int, message string) {
	typ, ok := anthropicErrorTypes[status]
	if !ok {
		typ = "api_error"
	}
	if message == "" {
		switch status {
		case 529:
			message = "Overloaded"
		case 429:
			message = "Number of request tokens has exceeded your per-minute rate limit"
		default:
			message = http.StatusText(status)
		}
	}
	a.writeError(w, status, typ, message)
}

// writeError answers with Anthropic's error shape.
func (a anthropicWire) writeError(w http.ResponseWriter, status int, typ, message string) {
	body, _ := json.Marshal(map[string]any{
		"type":       "error",
		"error":      map[string]string{"type": typ, "message": message},
		"request_id": a.requestID(),
	})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (a anthropicWire) requestID() string { return fmt.Sprintf("req_mock%d", a.p.nextID()) }

// anthropicRequest is the part of a messages body the provider reads.
type anthropicRequest struct {
	Model     string          `json:"model"`
	MaxTokens *int            `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []chatMessage   `json:"messages"`
	Stream    bool            `json:"stream"`
}

// parseAnthropic reads a messages body as a chat request: the system prompt,
// if any, counts as a first message.
func parseAnthropic(body []byte) (*chatRequest, error) {
	var ar anthropicRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		return nil, err
	}
	req := &chatRequest{Model: ar.Model, Stream: ar.Stream}
	if len(ar.System) > 0 && string(ar.System) != "null" {
		texts, err := contentTexts(ar.System)
		if err != nil {
			return nil, fmt.Errorf("providertest: system: %w", err)
		}
		req.Messages = append(req.Messages, chatMessage{Role: "system", texts: texts})
	}
	for i, m := range ar.Messages {
		texts, err := contentTexts(m.Content)
		if err != nil {
			return nil, fmt.Errorf("providertest: messages[%d].content: %w", i, err)
		}
		m.texts = texts
		req.Messages = append(req.Messages, m)
	}
	return req, nil
}

// anthropicUsage is Anthropic's usage object: input_tokens excludes the
// cache reads and writes reported beside it.
type anthropicUsage struct {
	InputTokens              int    `json:"input_tokens"`
	CacheCreationInputTokens int    `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int    `json:"cache_read_input_tokens"`
	OutputTokens             int    `json:"output_tokens"`
	ServiceTier              string `json:"service_tier,omitempty"`
}

// normalized is the usage in tollgate's terms.
func (u anthropicUsage) normalized() Usage {
	in := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
	return Usage{PromptTokens: in, CompletionTokens: u.OutputTokens, TotalTokens: in + u.OutputTokens,
		CachedTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens}
}

// usage splits the token rule's prompt into Anthropic's three input counts.
// Reasoning (thinking) tokens are a part of output_tokens, not reported apart.
func (a anthropicWire) usage(req *chatRequest) anthropicUsage {
	u := a.p.usage(req)
	write := min(a.p.cfg.cacheWrite, u.PromptTokens-u.CachedTokens)
	return anthropicUsage{
		InputTokens:              u.PromptTokens - u.CachedTokens - write,
		CacheCreationInputTokens: write,
		CacheReadInputTokens:     u.CachedTokens,
		OutputTokens:             u.CompletionTokens,
		ServiceTier:              "standard",
	}
}

// checkAnthropic refuses a body as Anthropic does, or returns it parsed.
func (a anthropicWire) check(w http.ResponseWriter, c *call, needMaxTokens bool) (*chatRequest, bool) {
	var ar anthropicRequest
	err := json.Unmarshal(c.body, &ar)
	var syntax *json.SyntaxError
	msg := ""
	switch {
	case len(c.body) == 0 || errors.As(err, &syntax):
		msg = "There was an error parsing the body of your request. The body is not valid JSON."
	case err != nil:
		msg = err.Error()
	case ar.Model == "":
		msg = "model: Field required"
	case ar.Messages == nil:
		msg = "messages: Field required"
	case needMaxTokens && ar.MaxTokens == nil:
		msg = "max_tokens: Field required"
	case len(ar.Messages) == 0:
		msg = "messages: at least one message is required"
	}
	if msg != "" {
		a.writeError(w, http.StatusBadRequest, "invalid_request_error", msg)
		return nil, false
	}
	req, err := parseAnthropic(c.body)
	if err != nil {
		a.writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return nil, false
	}
	return req, true
}

// messages answers POST /v1/messages.
func (a anthropicWire) messages(w http.ResponseWriter, r *http.Request, c *call) {
	req, ok := a.check(w, c, true)
	if !ok {
		return
	}
	id := fmt.Sprintf("msg_mock%d", a.p.nextID())
	reply := a.p.reply(req)
	usage := a.usage(req)
	w.Header().Set("Request-Id", a.requestID())
	if req.Stream {
		a.stream(w, r, c, id, req.Model, reply, usage)
		return
	}
	writeJSON(w, c, a.writeStatus, map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": req.Model,
		"content":     []map[string]string{{"type": "text", "text": reply}},
		"stop_reason": "end_turn", "stop_sequence": nil, "usage": usage,
	})
}

// stream sends Anthropic's event sequence: message_start with the input
// counts and a first output count of 1, a text block with one delta per
// word, message_delta with the cumulative counts (input and cache counts
// repeated, as Anthropic now sends them), message_stop.
func (a anthropicWire) stream(w http.ResponseWriter, r *http.Request, c *call, id, model, reply string, usage anthropicUsage) {
	var frames [][]byte
	add := func(name string, v any) {
		b, _ := json.Marshal(v)
		if c.fault.Malformed && len(frames) == 1 {
			b = b[:len(b)/2]
		}
		frames = append(frames, sseEvent(name, b))
	}
	start := usage
	start.OutputTokens = 1
	add("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": start}})
	add("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]string{"type": "text", "text": ""}})
	add("ping", map[string]string{"type": "ping"})
	for _, word := range splitWords(reply) {
		add("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]string{"type": "text_delta", "text": word}})
	}
	add("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	delta := usage
	delta.ServiceTier = ""
	add("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": delta})
	add("message_stop", map[string]string{"type": "message_stop"})
	c.stream(w, r, frames[:len(frames)-1], frames[len(frames)-1])
}

// countTokens answers POST /v1/messages/count_tokens.
func (a anthropicWire) countTokens(w http.ResponseWriter, _ *http.Request, c *call) {
	req, ok := a.check(w, c, false)
	if !ok {
		return
	}
	writeJSON(w, c, a.writeStatus, map[string]int{"input_tokens": req.promptTokens()})
}

// listModels answers GET /v1/models in Anthropic's shape.
func (a anthropicWire) listModels(w http.ResponseWriter, _ *http.Request, c *call) {
	created := time.Unix(modelCreated, 0).UTC().Format(time.RFC3339)
	data := make([]map[string]string, 0, len(anthropicModels))
	for _, id := range anthropicModels {
		data = append(data, map[string]string{"type": "model", "id": id, "display_name": id, "created_at": created})
	}
	writeJSON(w, c, a.writeStatus, map[string]any{"data": data, "has_more": false,
		"first_id": anthropicModels[0], "last_id": anthropicModels[len(anthropicModels)-1]})
}

var _ wire = anthropicWire{}
