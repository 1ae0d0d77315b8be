# Model allow-list per customer and per team, with optional replacement of
# a model by an approved one.
#
# data.tollgate.config.models:
#   default:   ["gpt-4o-mini", "claude-3-5-haiku*"]   glob patterns (* matches anything)
#   customers: {acme: ["gpt-4o*"]}                     a customer's own list replaces the default
#   teams:     {research: ["*"]}                       by the call's team metadata
#   replace:   {"gpt-4": "gpt-4o-mini"}                rewrite the request's model (a patch) instead of refusing
# With no list configured, every model is allowed.
package tollgate.guardrails.models

import data.tollgate.lib

cfg := data.tollgate.config.models

allowed := lib.limit(cfg)

permitted(m) if {
	some p in allowed
	glob.match(p, [], m)
}

# replacement is the approved model the request's model is rewritten to,
# when one is configured for it. patch and headers are whole objects (not
# built key by key), undefined without a replacement: most calls have none,
# and an undefined rule costs the evaluator next to nothing.
replacement := r if {
	r := cfg.replace[input.request.model]
	permitted(r)
}

patch := {"model": replacement}

headers := {"x-tollgate-model-replaced": sprintf("%s -> %s", [input.request.model, replacement])}

# With no list configured, allowed is undefined, and so is the message:
# nothing is denied.
deny contains msg if {
	not permitted(input.request.model)
	input.request.model != ""
	not replacement
	msg := sprintf("model %s is not allowed for %s; allowed: %s", [input.request.model, lib.who(cfg), concat(", ", allowed)])
}
