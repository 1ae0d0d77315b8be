package ratelimit

import (
	"bytes"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
)

// outputFields are where the wire formats put the most output a call may
// produce: OpenAI chat (max_tokens, max_completion_tokens), OpenAI
// responses (max_output_tokens), Anthropic (max_tokens) and Gemini
// (generationConfig.maxOutputTokens).
var outputFields = []string{"max_completion_tokens", "max_tokens", "max_output_tokens", "generationConfig.maxOutputTokens"}

var (
	tokensSuffix = []byte(`_tokens"`)
	outputTokens = []byte(`OutputTokens"`)
)

// estimate is the tokens a call is charged before it runs: its prompt,
// counted as a quarter of the request body's bytes (JSON punctuation
// included, so it errs high), plus the most output it asked for, or
// defaultOutput when it set no cap. Embeddings produce no output. After
// the call the charge is reconciled with the usage the provider reported.
func estimate(req *core.Request, defaultOutput int64) int64 {
	prompt := promptEstimate(req)
	if req.Operation == "embeddings" || req.Operation == "embedContent" || req.Operation == "batchEmbedContents" {
		return prompt
	}
	// Most bodies name none of the fields: look for them only where their
	// names appear.
	if bytes.Contains(req.Body, tokensSuffix) || bytes.Contains(req.Body, outputTokens) {
		for _, f := range outputFields {
			if v := gjson.GetBytes(req.Body, f); v.Type == gjson.Number && v.Int() > 0 {
				return prompt + v.Int()
			}
		}
	}
	return prompt + defaultOutput
}

// promptEstimate is a quarter of the request body's bytes: the prompt's
// tokens, erring high.
func promptEstimate(req *core.Request) int64 { return int64(len(req.Body)+3) / 4 }
