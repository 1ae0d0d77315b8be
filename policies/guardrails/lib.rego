# Helpers the guardrails share: configuration lookup and the prompt text.
package tollgate.lib

# config(name) is the configuration of one guardrail:
# data.tollgate.config[name], set in the stage's `data:` or a data.json.
config(name) := c if {
	c := data.tollgate.config[name]
} else := {}

# limit(cfg) is the value that applies to this call from a per-customer,
# per-team and default table: {customers: {id: v}, teams: {team: v}, default: v}.
# The team is the call's `team` metadata (header X-Tollgate-Meta-Team).
limit(cfg) := v if {
	v := cfg.customers[input.customer]
} else := v if {
	v := cfg.teams[input.metadata.team]
} else := v if {
	v := cfg["default"]
}

# who names whose limit applies, for messages.
who(cfg) := sprintf("customer %s", [input.customer]) if {
	cfg.customers[input.customer]
} else := sprintf("team %s", [input.metadata.team]) if {
	cfg.teams[input.metadata.team]
} else := "this gateway"

# prompt is every prompt text, joined with newlines, for detectors that
# scan it all. The stage passes it ready-made as input.request.prompt; an
# input without it (a test's) gets the texts joined here.
prompt := input.request.prompt if {
	is_string(input.request.prompt)
} else := concat("\n", [t.text | some t in input.request.texts])

# prompt_of(roles) is the prompt text of the given roles, joined.
prompt_of(roles) := concat("\n", [t.text | some t in input.request.texts; t.role in roles])
