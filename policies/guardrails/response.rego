# The response decision of the ready guardrails: deny and headers from
# every package under tollgate.output (data.tollgate.response).
package tollgate.response

deny contains msg if {
	some name
	some msg in data.tollgate.output[name].deny
}

default headers := {}

headers := object.union_n([h | some name; h := data.tollgate.output[name].headers])
