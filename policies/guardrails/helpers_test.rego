# Inputs for the guardrails' tests, shaped as the rego stage builds them.
package tollgate.testing

# chat is an OpenAI chat call from customer acme with one user message.
chat(text) := {
	"phase": "request",
	"request": {
		"provider": "openai", "operation": "chat.completions", "model": "gpt-4o-mini", "stream": false,
		"path": "/v1/chat/completions",
		"body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]},
		"texts": [{"path": "messages.0.content", "role": "user", "text": text}],
	},
	"customer": "acme",
	"metadata": {},
}

# with_model is chat with another model.
with_model(model) := json.patch(chat("hi"), [
	{"op": "replace", "path": "/request/model", "value": model},
	{"op": "replace", "path": "/request/body/model", "value": model},
])

# answer is the response phase of chat("hi") with the given answer text.
answer(text) := object.union(chat("hi"), {"phase": "response", "response": {"status": 200, "stream": false, "final": true, "text": text}})
