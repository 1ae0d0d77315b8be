package providertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode"
)

// systemFingerprint is the system_fingerprint of every completion.
const systemFingerprint = "fp_tollgate"

// openAICompletion is a chat.completion object.
type openAICompletion struct {
	ID                string         `json:"id"`
	Object            string         `json:"object"`
	Created           int64          `json:"created"`
	Model             string         `json:"model"`
	Choices           []openAIChoice `json:"choices"`
	Usage             openAIUsage    `json:"usage"`
	ServiceTier       string         `json:"service_tier"`
	SystemFingerprint string         `json:"system_fingerprint"`
}

type openAIChoice struct {
	Index        int           `json:"index"`
	Message      openAIMessage `json:"message"`
	Logprobs     *struct{}     `json:"logprobs"`
	FinishReason string        `json:"finish_reason"`
}

type openAIMessage struct {
	Role        string     `json:"role"`
	Content     string     `json:"content"`
	Refusal     *string    `json:"refusal"`
	Annotations []struct{} `json:"annotations"`
}

// openAIChunk is a chat.completion.chunk object. Usage is left out when
// nil, so that it can be absent, null or an object.
type openAIChunk struct {
	ID                string              `json:"id"`
	Object            string              `json:"object"`
	Created           int64               `json:"created"`
	Model             string              `json:"model"`
	ServiceTier       string              `json:"service_tier"`
	SystemFingerprint string              `json:"system_fingerprint"`
	Choices           []openAIChunkChoice `json:"choices"`
	Usage             json.RawMessage     `json:"usage,omitempty"`
}

type openAIChunkChoice struct {
	Index        int         `json:"index"`
	Delta        openAIDelta `json:"delta"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason *string     `json:"finish_reason"`
}

type openAIDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type openAIUsage struct {
	PromptTokens            int                     `json:"prompt_tokens"`
	CompletionTokens        int                     `json:"completion_tokens"`
	TotalTokens             int                     `json:"total_tokens"`
	PromptTokensDetails     openAIPromptDetails     `json:"prompt_tokens_details"`
	CompletionTokensDetails openAICompletionDetails `json:"completion_tokens_details"`
}

type openAIPromptDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
}

type openAICompletionDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

func newOpenAIUsage(u Usage) openAIUsage {
	return openAIUsage{
		PromptTokens:            u.PromptTokens,
		CompletionTokens:        u.CompletionTokens,
		TotalTokens:             u.TotalTokens,
		PromptTokensDetails:     openAIPromptDetails{CachedTokens: u.CachedTokens},
		CompletionTokensDetails: openAICompletionDetails{ReasoningTokens: u.ReasoningTokens},
	}
}

// chatCompletions answers POST /v1/chat/completions.
func (o openAI) chatCompletions(w http.ResponseWriter, r *http.Request, c *call) {
	req, err := parseChat(c.body)
	if err == nil && req.Model == "" {
		req.Model = azureDeployment(r.URL.Path) // Azure names the model by its deployment
	}
	var syntax *json.SyntaxError
	switch {
	case len(c.body) == 0 || errors.As(err, &syntax):
		o.writeError(w, http.StatusBadRequest, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)", "invalid_request_error", "", "")
		return
	case err != nil:
		o.writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid request body: %v", err), "invalid_request_error", "", "")
		return
	case req.Model == "":
		o.writeError(w, http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "", "")
		return
	case req.Messages == nil:
		o.writeError(w, http.StatusBadRequest, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter")
		return
	case len(req.Messages) == 0:
		o.writeError(w, http.StatusBadRequest, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "invalid_request_error", "messages", "empty_array")
		return
	}

	id := fmt.Sprintf("chatcmpl-mock%d", o.p.nextID())
	created := time.Now().Unix()
	reply := o.p.reply(req)
	usage := newOpenAIUsage(o.p.usage(req))
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
		o.streamCompletion(w, r, c, openAIChunk{
			ID:                id,
			Object:            "chat.completion.chunk",
			Created:           created,
			Model:             req.Model,
			ServiceTier:       "default",
			SystemFingerprint: systemFingerprint,
		}, reply, usage, includeUsage)
		return
	}
	o.writeJSON(w, c, openAICompletion{
		ID:      id,
		Object:  "chat.completion",
		Created: created,
		Model:   req.Model,
		Choices: []openAIChoice{{
			Message:      openAIMessage{Role: "assistant", Content: reply, Annotations: []struct{}{}},
			FinishReason: "stop",
		}},
		Usage:             usage,
		ServiceTier:       "default",
		SystemFingerprint: systemFingerprint,
	})
}

// streamCompletion streams reply as chunks made from head: one per word, the
// first with the role, then the finish, then the usage if asked for.
func (o openAI) streamCompletion(w http.ResponseWriter, r *http.Request, c *call, head openAIChunk, reply string, usage openAIUsage, includeUsage bool) {
	if includeUsage {
		head.Usage = json.RawMessage("null")
	}
	var frames [][]byte
	add := func(chunk openAIChunk) {
		b, _ := json.Marshal(chunk)
		if c.fault.Malformed && len(frames) == 0 {
			b = b[:len(b)/2]
		}
		frames = append(frames, sseData(b))
	}

	words := splitWords(reply)
	if len(words) == 0 {
		words = []string{""}
	}
	for i, word := range words {
		chunk := head
		chunk.Choices = []openAIChunkChoice{{Delta: openAIDelta{Content: &word}}}
		if i == 0 {
			chunk.Choices[0].Delta.Role = "assistant"
		}
		add(chunk)
		if c.fault.Malformed {
			break
		}
	}
	if !c.fault.Malformed {
		stop := "stop"
		chunk := head
		chunk.Choices = []openAIChunkChoice{{Delta: openAIDelta{}, FinishReason: &stop}}
		add(chunk)
		if includeUsage {
			chunk = head
			chunk.Choices = []openAIChunkChoice{}
			chunk.Usage, _ = json.Marshal(usage)
			add(chunk)
		}
	}
	c.stream(w, r, frames, sseData([]byte("[DONE]")))
}

// splitWords splits s into one piece per word, each word after the first
// with the spaces before it, so that the pieces join back into s.
func splitWords(s string) []string {
	var ends []int
	inSpace := true
	for i, r := range s {
		space := unicode.IsSpace(r)
		if space && !inSpace {
			ends = append(ends, i)
		}
		inSpace = space
	}
	if !inSpace {
		ends = append(ends, len(s))
	}
	if len(ends) == 0 {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	pieces := make([]string, 0, len(ends))
	start := 0
	for _, end := range ends[:len(ends)-1] {
		pieces = append(pieces, s[start:end])
		start = end
	}
	return append(pieces, s[start:])
}
