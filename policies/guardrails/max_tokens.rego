# Caps the answer length: a request that asks for more output tokens than
# the cap, or sets no limit, gets the cap written into its body (a patch of
# the format's own field). The response says so in x-tollgate-max-tokens.
#
# data.tollgate.config.max_tokens:
#   default:   4096
#   customers: {acme: 1024}
#   teams:     {research: 16384}
package tollgate.guardrails.max_tokens

import data.tollgate.lib

# fields is where each format keeps the output limit, by provider and
# operation. OpenAI chat calls that use max_completion_tokens keep it there.
fields := {
	"openai": {"chat.completions": "max_tokens", "completions": "max_tokens", "responses": "max_output_tokens"},
	"anthropic": {"messages": "max_tokens"},
	"gemini": {"generateContent": "generationConfig.maxOutputTokens", "streamGenerateContent": "generationConfig.maxOutputTokens"},
}

field := "max_completion_tokens" if {
	input.request.body.max_completion_tokens
} else := fields[input.request.provider][input.request.operation]

cap := lib.limit(data.tollgate.config.max_tokens)

# requested is the limit the request sets in its field, null if none. Each
# field is read by name, so that the stage parses only these fields of the
# body, not the messages.
requested := v if {
	field == "max_tokens"
	v := input.request.body.max_tokens
} else := v if {
	field == "max_completion_tokens"
	v := input.request.body.max_completion_tokens
} else := v if {
	field == "max_output_tokens"
	v := input.request.body.max_output_tokens
} else := v if {
	field == "generationConfig.maxOutputTokens"
	v := input.request.body.generationConfig.maxOutputTokens
} else := null

# over is true when the request sets no limit or one above the cap.
over if requested == null

over if requested > cap

# patch and headers are whole objects, undefined when the request is within
# the cap.
patch := {field: cap} if {
	is_number(cap)
	over
}

headers := {"x-tollgate-max-tokens": format_int(cap, 10)} if patch
