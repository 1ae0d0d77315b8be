// Package providertest is a fake LLM provider for tests, in the spirit of
// net/http/httptest. It speaks the OpenAI, Anthropic Messages and Gemini
// wire formats (and Azure OpenAI's paths), streams, reports exact and
// predictable token usage, records every request, and injects faults in each
// format's own error shape.
//
// It is the upstream for tollgate's own tests and for `tollgate mock`, which
// serves it so anyone can try the gateway without an API key.
//
//	srv := providertest.NewServer(t)
//	client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("sk-test"))
//
// # Routes
//
// Paths are served with or without a leading /v1, so a base URL of
// http://host:port and one of http://host:port/v1 both work:
//
//	POST /v1/chat/completions   a chat.completion, or with "stream": true a
//	                            text/event-stream of chat.completion.chunk
//	GET  /v1/models             a list of a few models
//	GET  /v1/models/{id}        one model of that list
//
//	POST /v1/embeddings         a list of 8-float embeddings (base64 with
//	                            "encoding_format": "base64"); prompt tokens
//	                            are the words of each input
//	POST /v1/responses          a Responses API response, or with "stream":
//	                            true its events, ending in response.completed
//	GET  /v1/files              an empty list (an endpoint gateways pass through)
//
// Azure OpenAI's paths, /openai/deployments/{d}/chat/completions and
// /openai/v1/..., are served as OpenAI's, with the key in api-key.
//
// Anthropic's format serves /v1/messages (a message, or with "stream": true
// message_start, content blocks with one text_delta per word, message_delta
// with the cumulative usage, message_stop), /v1/messages/count_tokens and
// GET /v1/models to any request for /v1/messages… or with an
// anthropic-version header; the key is x-api-key (or a bearer token).
// Anthropic reports input_tokens apart from cache_read_input_tokens
// ([WithCachedTokens]) and cache_creation_input_tokens
// ([WithCacheWriteTokens]).
//
// Gemini's format serves /v1beta/models/{model}:generateContent,
// :streamGenerateContent (with ?alt=sse one event per word, each with the
// usageMetadata so far; without it the same chunks as one JSON array),
// :countTokens and GET /v1beta/models; the key is x-goog-api-key or ?key=.
// Reasoning tokens are reported as thoughtsTokenCount, apart from
// candidatesTokenCount. [Provider.ExpectedUsageOf] gives the usage tollgate
// should record for any request, in its normalized terms.
//
// Any other path is a 404 and a wrong method a 405, in the format's error
// shape: OpenAI's {"error":{"message","type","param","code"}}, Anthropic's
// {"type":"error","error":{"type","message"}}, Gemini's
// {"error":{"code","message","status"}}. A body that is not JSON, or that
// lacks the operation's required fields, is a 400 in the same shape. With
// [WithRequiredKey], a missing or wrong key is a 401 (Gemini: 400, as it
// answers).
//
// # Replies and streams
//
// The reply is [DefaultReply] unless [WithReply] or [WithEcho] says otherwise.
// A stream sends one chunk per word of the reply (the first also carries the
// role), then a chunk with finish_reason "stop", then, only when
// stream_options.include_usage is true, a chunk with "choices":[] and the
// usage, then "data: [DONE]". As OpenAI does, every other chunk carries
// "usage":null when include_usage is true and no usage field otherwise. Each
// chunk is flushed on its own.
//
// # Token rule
//
// Usage is exact so that tests can assert it to the token. A word is a run of
// non-space characters (strings.Fields).
//
//	prompt_tokens     = 3 + sum over messages of (4 + words in its content)
//	completion_tokens = words in the reply + reasoning tokens
//	total_tokens      = prompt_tokens + completion_tokens
//
// A message's content is a string, null, or an array of parts whose "text"
// fields are counted; other parts count nothing. cached_tokens
// ([WithCachedTokens]) is a part of prompt_tokens, at most all of it;
// reasoning_tokens ([WithReasoningTokens]) is a part of completion_tokens, as
// OpenAI counts them. [PromptTokens], [ReplyTokens] and
// [Provider.ExpectedUsage] compute the same numbers for a test's assertions.
//
// # Faults
//
// A fault is queued with [Provider.Inject], for the next matching request or
// the next [Fault.Times] of them, or set on one request with the
// X-Fake-Fault header ([FaultHeader]), which a gateway forwards upstream like
// any unknown header. A header fault takes precedence and leaves the queue
// untouched. The header holds items separated by semicolons:
//
//	status=429                HTTP status with an error body in the format's
//	                          shape: 529 is Anthropic's overloaded_error, 429
//	                          Gemini's RESOURCE_EXHAUSTED
//	retry_after=2             with status: Retry-After in seconds, or a Go
//	                          duration such as 1500ms (Retry-After rounded up,
//	                          plus Retry-After-Ms, which the OpenAI SDKs prefer)
//	message=slow down         with status: the error message
//	latency=200ms             wait before answering; a cancelled request stops it
//	malformed                 200 with a body (or stream chunk) of broken JSON
//	cut_after=3               send 3 stream chunks, then abort the connection
//	                          without [DONE]; a non-streamed body is cut in half
//	chunk_delay=50ms          wait before each stream chunk after the first
//	drop                      close the connection before any response
//
// For example:
//
//	X-Fake-Fault: status=429; retry_after=2
//	X-Fake-Fault: latency=200ms; cut_after=3
//
// A header that does not parse gets a 400 that says what was wrong. Latency
// comes first, then drop, then status; malformed, cut_after and chunk_delay
// shape an otherwise normal answer.
//
// # Recording and cancellation
//
// [Provider.Requests] returns what arrived, in order. When the fake notices
// that a request's context was cancelled while it waited or streamed (the
// client went away), it sets [RecordedRequest.Cancelled] and closes the
// channel returned by [Provider.Cancelled], so a test can check that a client
// disconnect reaches the upstream.
//
// Wire formats live in their own files: openai*.go, anthropic.go, gemini.go.
package providertest
