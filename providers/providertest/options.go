package providertest

import "time"

// DefaultReply is the assistant's reply unless [WithReply] or [WithEcho] sets
// another. It has 7 words, so it costs 7 completion tokens.
const DefaultReply = "This is a mock response from tollgate."

// Option configures a [Provider] when it is built.
type Option func(*config)

// config is what the options set; it does not change after construction.
type config struct {
	reply           string
	echo            bool
	cachedTokens    int
	cacheWrite      int
	reasoningTokens int
	chunkDelay      time.Duration
	apiKey          string
	models          []string
	recordLimit     int // negative keeps every request
}

func defaultConfig() config {
	return config{
		reply:       DefaultReply,
		models:      []string{"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini"},
		recordLimit: -1,
	}
}

// WithReply sets the assistant's reply text. It turns echo off.
func WithReply(text string) Option {
	return func(c *config) { c.reply, c.echo = text, false }
}

// WithEcho makes the reply the text of the last user message, so that each
// request gets its own answer. A request with no user text gets the reply
// [WithReply] set, or [DefaultReply].
func WithEcho() Option {
	return func(c *config) { c.echo = true }
}

// WithCachedTokens reports n prompt tokens as cached, in
// prompt_tokens_details.cached_tokens. They are a part of prompt_tokens, so n
// is capped at prompt_tokens.
func WithCachedTokens(n int) Option {
	return func(c *config) { c.cachedTokens = max(n, 0) }
}

// WithCacheWriteTokens reports n prompt tokens as written to the cache, in
// Anthropic's cache_creation_input_tokens; capped at the prompt tokens not
// reported as cached. Other formats report no cache writes.
func WithCacheWriteTokens(n int) Option {
	return func(c *config) { c.cacheWrite = max(n, 0) }
}

// WithReasoningTokens adds n reasoning tokens to every completion, reported in
// completion_tokens_details.reasoning_tokens and, as OpenAI counts them,
// included in completion_tokens.
func WithReasoningTokens(n int) Option {
	return func(c *config) { c.reasoningTokens = max(n, 0) }
}

// WithChunkDelay waits d before each stream chunk after the first. The wait
// ends early when the request is cancelled. A fault's chunk_delay overrides it.
func WithChunkDelay(d time.Duration) Option {
	return func(c *config) { c.chunkDelay = max(d, 0) }
}

// WithRequiredKey makes the provider answer 401, in the wire format's error
// shape, to any request whose Authorization header is not "Bearer " + key.
func WithRequiredKey(key string) Option {
	return func(c *config) { c.apiKey = key }
}

// WithModels sets the model ids that GET /v1/models lists. Chat completions
// accept any model whatever this list holds.
func WithModels(ids ...string) Option {
	return func(c *config) { c.models = append([]string(nil), ids...) }
}

// WithRecordLimit keeps only the n most recent requests for
// [Provider.Requests], so that a long-running server, such as `tollgate mock`
// under load, keeps its memory bounded; 0 keeps none. By default every
// request is kept.
func WithRecordLimit(n int) Option {
	return func(c *config) { c.recordLimit = max(n, 0) }
}
