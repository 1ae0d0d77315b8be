# Personal data in answers: the response-side guard. With phase response
# (or both) it withholds an answer that contains any of the kinds, using the
# same detectors as the prompt guard.
#
# data.tollgate.config.output_pii:
#   action: deny (default) | off
#   kinds:  the kinds to look for (default all five)
package tollgate.output.pii

import data.tollgate.lib
import data.tollgate.lib.pii

cfg := lib.config("output_pii")

wanted := {k | some k in object.get(cfg, "kinds", pii.kinds)}

# findings is what the scan found in the answer ({} for most); the rule
# below stops at its first line when it is empty.
findings := tollgate.pii.find(input.response.text)

found := {kind | some kind, _ in findings; kind in wanted}

deny contains msg if {
	count(findings) > 0
	count(found) > 0
	object.get(cfg, "action", "deny") == "deny"
	msg := sprintf("the answer contains personal data (%s)", [concat(", ", sort(found))])
}
