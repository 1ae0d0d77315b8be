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

cfg := lib.config("max_tokens")

cap := lib.limit(cfg)

req := input.request

# field is where the format keeps the output limit.
field := "max_tokens" if {
	req.provider == "anthropic"
	req.operation == "messages"
} else := "generationConfig.maxOutputTokens" if {
	req.provider == "gemini"
	req.operation in {"generateContent", "streamGenerateContent"}
} else := "max_output_tokens" if {
	req.provider == "openai"
	req.operation == "responses"
} else := "max_completion_tokens" if {
	req.provider == "openai"
	req.operation == "chat.completions"
	"max_completion_tokens" in object.keys(req.body)
} else := "max_tokens" if {
	req.provider == "openai"
	req.operation in {"chat.completions", "completions"}
}

requested := object.get(req.body, split(field, "."), null)

over if requested == null

over if {
	is_number(requested)
	requested > cap
}

patch[field] := cap if {
	is_number(cap)
	over
}

headers["x-tollgate-max-tokens"] := format_int(cap, 10) if patch[field]
