package providertest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Usage is the token usage the provider reports for one request, by the
// token rule in the package documentation.
type Usage struct {
	// PromptTokens counts the request's messages.
	PromptTokens int
	// CompletionTokens counts the reply's words and the reasoning tokens.
	CompletionTokens int
	// TotalTokens is PromptTokens + CompletionTokens.
	TotalTokens int
	// CachedTokens is the part of PromptTokens reported as cached.
	CachedTokens int
	// ReasoningTokens is the part of CompletionTokens spent on reasoning, as
	// the provider reports it (Anthropic reports none apart).
	ReasoningTokens int
	// CacheWriteTokens is the part of PromptTokens written to the cache
	// (Anthropic's cache_creation_input_tokens; other formats report none).
	CacheWriteTokens int
}

// PromptTokens returns the prompt tokens the provider charges for a chat
// completion request body: 3, plus for each message 4 and the words of its
// content. Content is a string, null, or an array of parts whose "text"
// fields count. It fails if body is not a JSON object with a valid messages
// array.
func PromptTokens(body []byte) (int, error) {
	req, err := parseChat(body)
	if err != nil {
		return 0, err
	}
	return req.promptTokens(), nil
}

// ReplyTokens returns the completion tokens a reply costs, reasoning aside:
// its number of words.
func ReplyTokens(reply string) int {
	return len(strings.Fields(reply))
}

// ExpectedUsage returns the usage p reports for a chat completion request
// body, streamed or not, with the cached and reasoning tokens its options
// set.
func (p *Provider) ExpectedUsage(body []byte) (Usage, error) {
	req, err := parseChat(body)
	if err != nil {
		return Usage{}, err
	}
	return p.usage(req), nil
}

func (p *Provider) usage(req *chatRequest) Usage {
	prompt := req.promptTokens()
	completion := ReplyTokens(p.reply(req)) + p.cfg.reasoningTokens
	return Usage{
		PromptTokens:     prompt,
		CompletionTokens: completion,
		TotalTokens:      prompt + completion,
		CachedTokens:     min(p.cfg.cachedTokens, prompt),
		ReasoningTokens:  p.cfg.reasoningTokens,
	}
}

// reply returns the assistant's reply to req.
func (p *Provider) reply(req *chatRequest) string {
	if p.cfg.echo {
		for i := len(req.Messages) - 1; i >= 0; i-- {
			m := req.Messages[i]
			if m.Role != "user" {
				continue
			}
			if text := strings.Join(m.texts, " "); strings.TrimSpace(text) != "" {
				return text
			}
			break
		}
	}
	return p.cfg.reply
}

// chatRequest is the part of a chat completion request the provider reads.
type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// chatMessage is one message; texts holds the text of its content.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	texts   []string
}

// parseChat decodes a chat completion request body and the text of each
// message's content.
func parseChat(body []byte) (*chatRequest, error) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	for i := range req.Messages {
		texts, err := contentTexts(req.Messages[i].Content)
		if err != nil {
			return nil, fmt.Errorf("providertest: messages[%d].content: %w", i, err)
		}
		req.Messages[i].texts = texts
	}
	return &req, nil
}

// contentTexts returns the text of a message's content: a string, null, or
// an array of parts.
func contentTexts(raw json.RawMessage) ([]string, error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
		var parts []struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &parts); err != nil {
			return nil, err
		}
		texts := make([]string, 0, len(parts))
		for _, part := range parts {
			if part.Text != "" {
				texts = append(texts, part.Text)
			}
		}
		return texts, nil
	}
	return nil, fmt.Errorf("want a string, null or an array of parts, got %.20s", raw)
}

func (req *chatRequest) promptTokens() int {
	n := 3
	for _, m := range req.Messages {
		n += 4
		for _, t := range m.texts {
			n += len(strings.Fields(t))
		}
	}
	return n
}
