package tollgate.guardrails.max_tokens_test

import data.tollgate.request
import data.tollgate.testing.chat

cfg := {"max_tokens": {"default": 1000, "customers": {"acme": 200}}}

with_body(x, body) := json.patch(x, [{"op": "replace", "path": "/request/body", "value": body}])

test_no_cap_no_patch if {
	request.patch == {} with input as chat("hi")
}

test_missing_limit_gets_the_cap if {
	p := request.patch with input as chat("hi") with data.tollgate.config as cfg
	p == {"max_tokens": 200}
	h := request.headers with input as chat("hi") with data.tollgate.config as cfg
	h["x-tollgate-max-tokens"] == "200"
}

test_over_the_cap_is_lowered if {
	inp := with_body(chat("hi"), {"model": "gpt-4o-mini", "max_tokens": 5000})
	p := request.patch with input as inp with data.tollgate.config as cfg
	p == {"max_tokens": 200}
}

test_under_the_cap_is_kept if {
	inp := with_body(chat("hi"), {"model": "gpt-4o-mini", "max_tokens": 50})
	request.patch == {} with input as inp with data.tollgate.config as cfg
}

test_max_completion_tokens_is_the_field_when_used if {
	inp := with_body(chat("hi"), {"model": "o3", "max_completion_tokens": 9000})
	p := request.patch with input as inp with data.tollgate.config as cfg
	p == {"max_completion_tokens": 200}
}

test_each_format_has_its_field if {
	cases := [
		[{"provider": "anthropic", "operation": "messages", "body": {"max_tokens": 4096}}, "max_tokens"],
		[{"provider": "gemini", "operation": "generateContent", "body": {"generationConfig": {"maxOutputTokens": 8192}}}, "generationConfig.maxOutputTokens"],
		[{"provider": "gemini", "operation": "streamGenerateContent", "body": {}}, "generationConfig.maxOutputTokens"],
		[{"provider": "openai", "operation": "responses", "body": {"input": "hi"}}, "max_output_tokens"],
	]
	every c in cases {
		inp := {"request": c[0], "customer": "globex", "metadata": {}}
		p := request.patch with input as inp with data.tollgate.config as cfg
		p == {c[1]: 1000}
	}
}

test_other_operations_are_left_alone if {
	inp := {"request": {"provider": "openai", "operation": "embeddings", "body": {"input": "hi"}}, "customer": "acme", "metadata": {}}
	request.patch == {} with input as inp with data.tollgate.config as cfg
}
