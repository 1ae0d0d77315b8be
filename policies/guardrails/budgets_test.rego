package tollgate.guardrails.budgets_test

import data.tollgate.request
import data.tollgate.testing.chat

cfg := {"budgets": {
	"default": {"daily_tokens": 1000, "monthly_cost_usd": 10},
	"customers": {"acme": {"daily_tokens": 100, "daily_cost_usd": 0.5, "monthly_tokens": 5000}},
}}

with_usage(x, day, month) := object.union(x, {"usage": {"day": day, "month": month}})

totals(tokens, cost) := {"requests": 1, "input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens, "cost_usd": cost}

test_under_budget_passes if {
	inp := with_usage(chat("hi"), totals(99, 0.1), totals(99, 0.1))
	count(request.deny) == 0 with input as inp with data.tollgate.config as cfg
	h := request.headers with input as inp with data.tollgate.config as cfg
	h["x-tollgate-budget-tokens-remaining"] == "1"
}

test_daily_tokens_spent if {
	inp := with_usage(chat("hi"), totals(100, 0.1), totals(100, 0.1))
	d := request.deny with input as inp with data.tollgate.config as cfg
	d == {"customer acme has used 100 of its daily budget of 100 tokens; it resets at midnight UTC"}
}

test_cost_budgets if {
	inp := with_usage(chat("hi"), totals(10, 0.75), totals(4000, 0.75))
	d := request.deny with input as inp with data.tollgate.config as cfg
	d == {"customer acme has used 0.75 of its daily budget of 0.5 USD; it resets at midnight UTC"}
}

test_monthly_budget if {
	inp := with_usage(chat("hi"), totals(10, 0.1), totals(6000, 0.2))
	d := request.deny with input as inp with data.tollgate.config as cfg
	d == {"customer acme has used 6000 of its monthly budget of 5000 tokens; it resets on the first of the month (UTC)"}
}

test_default_budget_for_other_customers if {
	inp := json.patch(with_usage(chat("hi"), totals(10, 0.1), totals(10, 12)), [{"op": "replace", "path": "/customer", "value": "globex"}])
	d := request.deny with input as inp with data.tollgate.config as cfg
	d == {"customer globex has used 12 of its monthly budget of 10 USD; it resets on the first of the month (UTC)"}
}

test_unattributed_calls_have_no_budget if {
	inp := json.patch(with_usage(chat("hi"), totals(5000, 100), totals(5000, 100)), [{"op": "replace", "path": "/customer", "value": ""}])
	count(request.deny) == 0 with input as inp with data.tollgate.config as cfg
}

test_no_ledger_no_denial if {
	count(request.deny) == 0 with input as chat("hi") with data.tollgate.config as cfg
}
