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

cfg := lib.config("budgets")

limits := lib.limit(cfg)

# spent(period, what) is what the customer has used in the period.
spent("daily", "tokens") := input.usage.day.total_tokens

spent("monthly", "tokens") := input.usage.month.total_tokens

spent("daily", "cost_usd") := input.usage.day.cost_usd

spent("monthly", "cost_usd") := input.usage.month.cost_usd

resets := {"daily": "at midnight UTC", "monthly": "on the first of the month (UTC)"}

units := {"tokens": "tokens", "cost_usd": "USD"}

deny contains msg if {
	input.customer != ""
	some period in ["daily", "monthly"]
	some what in ["tokens", "cost_usd"]
	limit := limits[sprintf("%s_%s", [period, what])]
	used := spent(period, what)
	used >= limit
	msg := sprintf("customer %s has used %v of its %s budget of %v %s; it resets %s", [input.customer, used, period, limit, units[what], resets[period]])
}

headers["x-tollgate-budget-tokens-remaining"] := format_int(max([0, limits.daily_tokens - input.usage.day.total_tokens]), 10) if {
	input.customer != ""
	limits.daily_tokens
}
