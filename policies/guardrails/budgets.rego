# Per-customer token and cost budgets for the UTC day and month, read from
# the usage ledger (input.usage), so no network call is needed. A customer
# at or over a budget is refused until the period rolls over.
#
# data.tollgate.config.budgets:
#   default:   {daily_tokens: 1000000, monthly_tokens: 20000000, daily_cost_usd: 50, monthly_cost_usd: 1000}
#   customers: {acme: {daily_tokens: 50000}}
#   teams:     {research: {monthly_cost_usd: 5000}}
# Any of the four keys may be left out. Unattributed calls have no budget.
package tollgate.guardrails.budgets

import data.tollgate.lib

limits := lib.limit(data.tollgate.config.budgets)

# Each rule reads input.usage directly: a rule per period would be two more
# rules for the evaluator on every call.
deny contains over("daily", input.usage.day.total_tokens, limits.daily_tokens, "tokens") if {
	input.customer != ""
	input.usage.day.total_tokens >= limits.daily_tokens
}

deny contains over("monthly", input.usage.month.total_tokens, limits.monthly_tokens, "tokens") if {
	input.customer != ""
	input.usage.month.total_tokens >= limits.monthly_tokens
}

deny contains over("daily", input.usage.day.cost_usd, limits.daily_cost_usd, "USD") if {
	input.customer != ""
	input.usage.day.cost_usd >= limits.daily_cost_usd
}

deny contains over("monthly", input.usage.month.cost_usd, limits.monthly_cost_usd, "USD") if {
	input.customer != ""
	input.usage.month.cost_usd >= limits.monthly_cost_usd
}

resets := {"daily": "at midnight UTC", "monthly": "on the first of the month (UTC)"}

over(period, used, limit, unit) := sprintf("customer %s has used %v of its %s budget of %v %s; it resets %s", [input.customer, used, period, limit, unit, resets[period]])

# headers is a whole object: one rule, not one per key.
headers := {"x-tollgate-budget-tokens-remaining": format_int(at_least_zero(limits.daily_tokens - input.usage.day.total_tokens), 10)} if {
	input.customer != ""
}

# at_least_zero is max([0, n]) without building the array on every call.
at_least_zero(n) := n if n >= 0 else := 0
