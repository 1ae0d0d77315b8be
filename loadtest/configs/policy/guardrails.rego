# A sample request guardrail for the load harness: the kind of checks a
# platform team starts with. Evaluated once per request.
package tollgate.request

import rego.v1

allowed_models := {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"}

deny contains msg if {
	not input.request.model in allowed_models
	msg := sprintf("model %q is not on the allow-list", [input.request.model])
}

deny contains msg if {
	input.request.body.max_tokens > 4096
	msg := sprintf("max_tokens %d is over the cap of 4096", [input.request.body.max_tokens])
}

deny contains "the prompt contains an e-mail address" if {
	some m in input.request.body.messages
	is_string(m.content)
	regex.match(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`, m.content)
}
