package tollgate.guardrails.models_test

import data.tollgate.request
import data.tollgate.testing.with_model

cfg := {"models": {
	"default": ["gpt-4o-mini", "claude-3-5-haiku*"],
	"customers": {"acme": ["gpt-4o*"]},
	"teams": {"research": ["*"]},
	"replace": {"gpt-4": "gpt-4o-mini"},
}}

test_no_list_allows_everything if {
	count(request.deny) == 0 with input as with_model("o3-pro")
}

test_customer_list_applies if {
	count(request.deny) == 0 with input as with_model("gpt-4o-2024-08-06") with data.tollgate.config as cfg
	d := request.deny with input as with_model("o3") with data.tollgate.config as cfg
	d == {"model o3 is not allowed for customer acme; allowed: gpt-4o*"}
}

test_default_list_for_other_customers if {
	inp := json.patch(with_model("claude-3-5-haiku-latest"), [{"op": "replace", "path": "/customer", "value": "globex"}])
	count(request.deny) == 0 with input as inp with data.tollgate.config as cfg
	inp2 := json.patch(with_model("gpt-4o"), [{"op": "replace", "path": "/customer", "value": "globex"}])
	d := request.deny with input as inp2 with data.tollgate.config as cfg
	d == {"model gpt-4o is not allowed for this gateway; allowed: gpt-4o-mini, claude-3-5-haiku*"}
}

test_team_list if {
	inp := json.patch(with_model("o3"), [{"op": "replace", "path": "/customer", "value": "globex"}, {"op": "add", "path": "/metadata/team", "value": "research"}])
	count(request.deny) == 0 with input as inp with data.tollgate.config as cfg
}

test_replacement_patches_the_model if {
	inp := json.patch(with_model("gpt-4"), [{"op": "replace", "path": "/customer", "value": "globex"}])
	count(request.deny) == 0 with input as inp with data.tollgate.config as cfg
	p := request.patch with input as inp with data.tollgate.config as cfg
	p == {"model": "gpt-4o-mini"}
	h := request.headers with input as inp with data.tollgate.config as cfg
	h["x-tollgate-model-replaced"] == "gpt-4 -> gpt-4o-mini"
}
