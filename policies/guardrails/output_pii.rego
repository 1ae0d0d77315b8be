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

found := {kind | some kind, _ in tollgate.pii.find(input.response.text); kind in wanted}

deny contains msg if {
	count(found) > 0
	object.get(cfg, "action", "deny") == "deny"
	msg := sprintf("the answer contains personal data (%s)", [concat(", ", sort(found))])
}
