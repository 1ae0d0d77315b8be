package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// openAI serves the OpenAI wire format: chat completions and models.
type openAI struct {
	p *Provider
}

// serve routes the request, checks its key, and answers it.
func (o openAI) serve(w http.ResponseWriter, r *http.Request, c *call) {
	path := stripV1(stripAzure(r.URL.Path))
	method, handle := "", (func(http.ResponseWriter, *http.Request, *call))(nil)
	switch {
	case path == "/chat/completions":
		method, handle = http.MethodPost, o.chatCompletions
	case path == "/embeddings":
		method, handle = http.MethodPost, o.embeddings
	case path == "/responses":
		method, handle = http.MethodPost, o.responses
	case path == "/files":
		method, handle = http.MethodGet, o.listFiles
	case path == "/models":
		method, handle = http.MethodGet, o.listModels
	case strings.HasPrefix(path, "/models/"):
		method, handle = http.MethodGet, o.getModel
	default:
		o.writeError(w, http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "", "")
		return
	}
	if r.Method != method {
		o.writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "", "")
		return
	}
	if !o.p.authorized(r) {
		o.writeUnauthorized(w, r)
		return
	}
	handle(w, r, c)
}

// writeStatus answers with status and an error body shaped and worded as
// OpenAI's for that status.
func (o openAI) writeStatus(w http.ResponseWriter, status int, message string) {
	typ, code, text := "invalid_request_error", "", http.StatusText(status)+"."
	switch {
	case status == http.StatusUnauthorized:
		code, text = "invalid_api_key", "Incorrect API key provided."
	case status == http.StatusTooManyRequests:
		typ, code, text = "requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."
	case status == http.StatusServiceUnavailable:
		typ, text = "server_error", "The server is overloaded or not ready yet."
	case status >= 500:
		typ, text = "server_error", "The server had an error while processing your request. Sorry about that!"
	}
	if message == "" {
		message = text
	}
	o.writeError(w, status, message, typ, "", code)
}

func (o openAI) writeUnauthorized(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		o.writeError(w, http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "invalid_request_error", "", "")
		return
	}
	o.writeError(w, http.StatusUnauthorized, fmt.Sprintf("Incorrect API key provided: %s.", maskKey(key)), "invalid_request_error", "", "invalid_api_key")
}

// openAIError is OpenAI's error body.
type openAIError struct {
	Error openAIErrorDetail `json:"error"`
}

type openAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// writeError answers with OpenAI's error shape; an empty param or code is
// sent as null.
func (o openAI) writeError(w http.ResponseWriter, status int, message, typ, param, code string) {
	body, _ := json.Marshal(openAIError{Error: openAIErrorDetail{
		Message: message,
		Type:    typ,
		Param:   nullable(param),
		Code:    nullable(code),
	}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeJSON answers 200 with v as JSON, malformed or cut if the call's fault
// says so.
func (o openAI) writeJSON(w http.ResponseWriter, c *call, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		o.writeStatus(w, http.StatusInternalServerError, "providertest: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Request-Id", fmt.Sprintf("req_mock%d", o.p.nextID()))
	if c.fault.Malformed {
		body = body[:len(body)/2]
	}
	if c.fault.CutAfter > 0 {
		writeCut(w, http.StatusOK, body)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// maskKey hides the middle of an API key, as OpenAI does in its errors.
func maskKey(key string) string {
	if len(key) <= 8 {
		return strings.Repeat("*", len(key))
	}
	return key[:4] + strings.Repeat("*", len(key)-8) + key[len(key)-4:]
}

var _ wire = openAI{}

// stripAzure maps Azure OpenAI's paths onto OpenAI's:
// /openai/deployments/{deployment}/chat/completions and
// /openai/v1/chat/completions become /chat/completions, /openai/files
// becomes /files.
func stripAzure(path string) string {
	rest, ok := strings.CutPrefix(path, "/openai/")
	if !ok {
		return path
	}
	if d, ok := strings.CutPrefix(rest, "deployments/"); ok {
		if _, after, ok := strings.Cut(d, "/"); ok {
			return "/" + after
		}
	}
	return "/" + rest
}

// azureDeployment returns the deployment an Azure path names, if any.
func azureDeployment(path string) string {
	d, ok := strings.CutPrefix(path, "/openai/deployments/")
	if !ok {
		return ""
	}
	d, _, _ = strings.Cut(d, "/")
	return d
}
