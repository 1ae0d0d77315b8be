# Personal data in prompts: email addresses, phone numbers, credit card
# numbers (Luhn-checked), US social security numbers and IBANs
# (check-digit verified).
#
# data.tollgate.config.pii:
#   action: deny (default) | redact | off — redact replaces each finding in
#           the prompt with [REDACTED:<kind>] (a patch) and lets the call go
#   kinds:  the kinds to look for (default all five)
package tollgate.guardrails.pii

import data.tollgate.lib
import data.tollgate.lib.pii

cfg := lib.config("pii")

action := object.get(cfg, "action", "deny")

wanted := {k | some k in object.get(cfg, "kinds", pii.kinds)}

# findings is what the scan found in the prompt, by kind ({} for a clean
# prompt, as most are); found is the set of wanted kinds among them. The
# scan runs once per call; with nothing found, the rules below stop at
# their first line.
findings := tollgate.pii.find(lib.prompt)

found := {kind | some kind, _ in findings; kind in wanted}

deny contains msg if {
	count(findings) > 0
	count(found) > 0
	action == "deny"
	msg := sprintf("the prompt contains personal data (%s): remove it and try again", [concat(", ", sort(found))])
}

# patch is a whole object, undefined unless the guard redacts: a rule per
# key (patch[t.path] := ...) would make it an empty object on every call,
# one more the request decision unions.
patch := {t.path: redacted |
	some t in input.request.texts
	redacted := pii.redact(t.text, wanted)
	redacted != t.text
} if {
	count(findings) > 0
	count(found) > 0
	action == "redact"
}

headers := {"x-tollgate-pii-redacted": concat(",", sort(found))} if {
	count(findings) > 0
	count(found) > 0
	action == "redact"
}
