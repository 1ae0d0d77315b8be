# The request decision of the ready guardrails: it gathers deny, patch and
# headers from every package under tollgate.guardrails, so a guardrail is
# one package and the stage evaluates one query (data.tollgate.request).
package tollgate.request

deny contains msg if {
	some name
	some msg in data.tollgate.guardrails[name].deny
}

# patch and headers have defaults: a decision key that is never undefined
# is read by the stage without wrapping it (one array fewer per key).
default patch := {}

patch := object.union_n([p | some name; p := data.tollgate.guardrails[name].patch])

default headers := {}

headers := object.union_n([h | some name; h := data.tollgate.guardrails[name].headers])
