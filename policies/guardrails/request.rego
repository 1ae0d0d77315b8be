# The request decision of the ready guardrails: it gathers deny, patch and
# headers from every package under tollgate.guardrails, so a guardrail is
# one package and the stage evaluates one query (data.tollgate.request).
package tollgate.request

deny contains msg if {
	some name
	some msg in data.tollgate.guardrails[name].deny
}

patch := object.union_n([p | some name; p := data.tollgate.guardrails[name].patch])

headers := object.union_n([h | some name; h := data.tollgate.guardrails[name].headers])
