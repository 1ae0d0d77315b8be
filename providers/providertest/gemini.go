package providertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// geminiWire serves the Gemini API wire format.
type geminiWire struct {
	p *Provider
}

// geminiModels are the models GET /v1beta/models lists.
var geminiModels = []string{"gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"}

func isGeminiPath(path string) bool {
	return strings.HasPrefix(path, "/v1beta/") || strings.HasPrefix(path, "/v1alpha/") ||
		strings.HasPrefix(path, "/v1/models/") && strings.Contains(path, ":")
}

// geminiStatuses are Google's canonical status names by HTTP status.
var geminiStatuses = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "NOT_IMPLEMENTED",
	503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}

func (g geminiWire) serve(w http.ResponseWriter, r *http.Request, c *call) {
	path := r.URL.Path
	_, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/") // drop the version
	if key := g.p.cfg.apiKey; key != "" && r.Header.Get("X-Goog-Api-Key") != key && r.URL.Query().Get("key") != key {
		g.writeError(w, http.StatusBadRequest, "API key not valid. Please pass a valid API key.") // as Gemini answers it
		return
	}
	if rest == "models" {
		if r.Method != http.MethodGet {
			g.writeStatus(w, http.StatusMethodNotAllowed, "")
			return
		}
		g.listModels(w, c)
		return
	}
	name, method, ok := strings.Cut(strings.TrimPrefix(rest, "models/"), ":")
	if !ok || !strings.HasPrefix(rest, "models/") {
		g.writeError(w, http.StatusNotFound, fmt.Sprintf("The requested URL %s was not found on this server.", path))
		return
	}
	if r.Method != http.MethodPost {
		g.writeStatus(w, http.StatusMethodNotAllowed, "")
		return
	}
	switch method {
	case "generateContent":
		g.generate(w, r, c, name, false)
	case "streamGenerateContent":
		g.generate(w, r, c, name, true)
	case "countTokens":
		req, ok := g.check(w, c)
		if ok {
			writeJSON(w, c, g.writeStatus, map[string]int{"totalTokens": req.promptTokens()})
		}
	default:
		g.writeError(w, http.StatusNotFound, fmt.Sprintf("Method %s not found for model %s.", method, name))
	}
}

// writeStatus answers with status and Google's error shape.
func (g geminiWire) writeStatus(w http.ResponseWriter, status int, message string) {
	if message == "" {
		switch status {
		case http.StatusTooManyRequests:
			message = "Resource has been exhausted (e.g. check quota)."
		case http.StatusServiceUnavailable:
			message = "The model is overloaded. Please try again later."
		default:
			message = http.StatusText(status)
		}
	}
	g.writeError(w, status, message)
}

// writeError answers {"error":{"code","message","status"}}.
func (g geminiWire) writeError(w http.ResponseWriter, status int, message string) {
	st, ok := geminiStatuses[status]
	if !ok {
		st = "UNKNOWN"
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": message, "status": st}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// geminiRequest is the part of a generateContent body the provider reads.
type geminiRequest struct {
	Contents          *[]geminiContent `json:"contents"`
	SystemInstruction *geminiContent   `json:"systemInstruction"`
}

type geminiContent struct {
	Role  string `json:"role"`
	Parts []struct {
		Text string `json:"text"`
	} `json:"parts"`
}

// parseGemini reads a generateContent body as a chat request: the system
// instruction, if any, counts as a first message; each content is a message
// whose text is that of its parts.
func parseGemini(body []byte) (*chatRequest, error) {
	var gr geminiRequest
	if err := json.Unmarshal(body, &gr); err != nil {
		return nil, err
	}
	req := &chatRequest{}
	add := func(c geminiContent, role string) {
		m := chatMessage{Role: role}
		for _, p := range c.Parts {
			if p.Text != "" {
				m.texts = append(m.texts, p.Text)
			}
		}
		req.Messages = append(req.Messages, m)
	}
	if gr.SystemInstruction != nil {
		add(*gr.SystemInstruction, "system")
	}
	if gr.Contents != nil {
		for _, c := range *gr.Contents {
			role := c.Role
			if role == "" || role == "model" {
				role = map[string]string{"": "user", "model": "assistant"}[role]
			}
			add(c, role)
		}
	}
	return req, nil
}

func (g geminiWire) check(w http.ResponseWriter, c *call) (*chatRequest, bool) {
	var gr geminiRequest
	err := json.Unmarshal(c.body, &gr)
	var syntax *json.SyntaxError
	switch {
	case len(c.body) == 0 || errors.As(err, &syntax):
		g.writeError(w, http.StatusBadRequest, "Invalid JSON payload received. Unexpected end of string.")
		return nil, false
	case err != nil:
		g.writeError(w, http.StatusBadRequest, "Invalid JSON payload received. "+err.Error())
		return nil, false
	case gr.Contents == nil || len(*gr.Contents) == 0:
		g.writeError(w, http.StatusBadRequest, "* GenerateContentRequest.contents: contents is not specified\n")
		return nil, false
	}
	req, err := parseGemini(c.body)
	if err != nil {
		g.writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return req, true
}

// geminiUsage is a usageMetadata object; zero counts are left out, as
// Gemini does.
type geminiUsage struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount         int `json:"totalTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount,omitempty"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount,omitempty"`
}

// generate answers generateContent, and streamGenerateContent: with alt=sse
// one event per word, each with the usage so far, the last with
// finishReason STOP and the final usage; without alt=sse the same chunks as
// one JSON array.
func (g geminiWire) generate(w http.ResponseWriter, r *http.Request, c *call, model string, stream bool) {
	req, ok := g.check(w, c)
	if !ok {
		return
	}
	reply := g.p.reply(req)
	u := g.p.usage(req)
	respID := fmt.Sprintf("mock%d", g.p.nextID())
	chunk := func(text string, candidates int, final bool) map[string]any {
		cand := map[string]any{"content": map[string]any{"parts": []map[string]string{{"text": text}}, "role": "model"}, "index": 0}
		usage := geminiUsage{PromptTokenCount: u.PromptTokens, CandidatesTokenCount: candidates,
			TotalTokenCount: u.PromptTokens + candidates, CachedContentTokenCount: u.CachedTokens}
		if final {
			cand["finishReason"] = "STOP"
			usage.ThoughtsTokenCount = u.ReasoningTokens
			usage.TotalTokenCount = u.TotalTokens
		}
		return map[string]any{"candidates": []any{cand}, "usageMetadata": usage, "modelVersion": model, "responseId": respID}
	}
	words := ReplyTokens(reply)
	if !stream {
		writeJSON(w, c, g.writeStatus, chunk(reply, words, true))
		return
	}
	pieces := splitWords(reply)
	if len(pieces) == 0 {
		pieces = []string{""}
	}
	var chunks []map[string]any
	for i, piece := range pieces {
		chunks = append(chunks, chunk(piece, ReplyTokens(strings.Join(pieces[:i+1], "")), i == len(pieces)-1))
	}
	if r.URL.Query().Get("alt") != "sse" {
		writeJSON(w, c, g.writeStatus, chunks)
		return
	}
	frames := make([][]byte, 0, len(chunks))
	for i, ch := range chunks {
		b, _ := json.Marshal(ch)
		if c.fault.Malformed && i == 0 {
			b = b[:len(b)/2]
		}
		frames = append(frames, []byte("data: "+string(b)+"\r\n\r\n"))
	}
	c.stream(w, r, frames[:len(frames)-1], frames[len(frames)-1])
}

// listModels answers GET /v1beta/models.
func (g geminiWire) listModels(w http.ResponseWriter, c *call) {
	models := make([]map[string]any, 0, len(geminiModels))
	for _, id := range geminiModels {
		models = append(models, map[string]any{"name": "models/" + id, "displayName": id,
			"supportedGenerationMethods": []string{"generateContent", "countTokens"}})
	}
	writeJSON(w, c, g.writeStatus, map[string]any{"models": models})
}

var _ wire = geminiWire{}
