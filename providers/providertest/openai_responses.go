package providertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// responsesRequest is the part of a Responses API body the provider reads.
type responsesRequest struct {
	Model        string          `json:"model"`
	Input        json.RawMessage `json:"input"`
	Instructions string          `json:"instructions"`
	Stream       bool            `json:"stream"`
}

// parseResponses reads a Responses body as a chat request: instructions
// count as a first message, a string input as one user message, and each
// input item with content as a message.
func parseResponses(body []byte) (*chatRequest, error) {
	var rr responsesRequest
	if err := json.Unmarshal(body, &rr); err != nil {
		return nil, err
	}
	req := &chatRequest{Model: rr.Model, Stream: rr.Stream}
	if rr.Instructions != "" {
		req.Messages = append(req.Messages, chatMessage{Role: "system", texts: []string{rr.Instructions}})
	}
	var s string
	if json.Unmarshal(rr.Input, &s) == nil {
		req.Messages = append(req.Messages, chatMessage{Role: "user", texts: []string{s}})
		return req, nil
	}
	var items []chatMessage
	if len(rr.Input) > 0 {
		if err := json.Unmarshal(rr.Input, &items); err != nil {
			return nil, fmt.Errorf("providertest: input: %w", err)
		}
	}
	for i, m := range items {
		texts, err := contentTexts(m.Content)
		if err != nil {
			return nil, fmt.Errorf("providertest: input[%d].content: %w", i, err)
		}
		m.texts = texts
		req.Messages = append(req.Messages, m)
	}
	return req, nil
}

// responsesUsage is the Responses API's usage object.
func responsesUsage(u Usage) map[string]any {
	return map[string]any{
		"input_tokens":          u.PromptTokens,
		"input_tokens_details":  map[string]int{"cached_tokens": u.CachedTokens},
		"output_tokens":         u.CompletionTokens,
		"output_tokens_details": map[string]int{"reasoning_tokens": u.ReasoningTokens},
		"total_tokens":          u.TotalTokens,
	}
}

// responses answers POST /v1/responses, or streams its events.
func (o openAI) responses(w http.ResponseWriter, r *http.Request, c *call) {
	req, err := parseResponses(c.body)
	var syntax *json.SyntaxError
	switch {
	case len(c.body) == 0 || errors.As(err, &syntax):
		o.writeError(w, http.StatusBadRequest, "We could not parse the JSON body of your request.", "invalid_request_error", "", "")
		return
	case err != nil:
		o.writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid request body: %v", err), "invalid_request_error", "input", "")
		return
	case req.Model == "":
		o.writeError(w, http.StatusBadRequest, "Missing required parameter: 'model'.", "invalid_request_error", "model", "missing_required_parameter")
		return
	}
	n := o.p.nextID()
	id, msgID := fmt.Sprintf("resp_mock%d", n), fmt.Sprintf("msg_mock%d", n)
	reply := o.p.reply(req)
	u := o.p.usage(req)
	message := func(text, status string) map[string]any {
		content := []any{}
		if status == "completed" {
			content = []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}
		}
		return map[string]any{"type": "message", "id": msgID, "status": status, "role": "assistant", "content": content}
	}
	response := func(status string, output []any, usage any) map[string]any {
		return map[string]any{
			"id": id, "object": "response", "created_at": time.Now().Unix(), "status": status,
			"error": nil, "incomplete_details": nil, "instructions": nil, "max_output_tokens": nil,
			"model": req.Model, "output": output, "parallel_tool_calls": true, "previous_response_id": nil,
			"reasoning": map[string]any{"effort": nil, "summary": nil}, "store": true, "temperature": 1.0,
			"text": map[string]any{"format": map[string]string{"type": "text"}}, "tool_choice": "auto",
			"tools": []any{}, "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": nil,
			"metadata": map[string]any{},
		}
	}
	final := response("completed", []any{message(reply, "completed")}, responsesUsage(u))
	if !req.Stream {
		o.writeJSON(w, c, final)
		return
	}
	var frames [][]byte
	add := func(typ string, fields map[string]any) {
		fields["type"] = typ
		fields["sequence_number"] = len(frames)
		b, _ := json.Marshal(fields)
		if c.fault.Malformed && len(frames) == 1 {
			b = b[:len(b)/2]
		}
		frames = append(frames, sseEvent(typ, b))
	}
	part := func(text string) map[string]any {
		return map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
	}
	add("response.created", map[string]any{"response": response("in_progress", []any{}, nil)})
	add("response.in_progress", map[string]any{"response": response("in_progress", []any{}, nil)})
	add("response.output_item.added", map[string]any{"output_index": 0, "item": message("", "in_progress")})
	add("response.content_part.added", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": part("")})
	for _, word := range splitWords(reply) {
		add("response.output_text.delta", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "delta": word, "logprobs": []any{}})
	}
	add("response.output_text.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "text": reply, "logprobs": []any{}})
	add("response.content_part.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": part(reply)})
	add("response.output_item.done", map[string]any{"output_index": 0, "item": message(reply, "completed")})
	add("response.completed", map[string]any{"response": final})
	c.stream(w, r, frames[:len(frames)-1], frames[len(frames)-1])
}
