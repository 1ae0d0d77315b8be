# Personal data in text, shared by the prompt guard (pii) and the answer
# guard (output pii). Detection is tollgate.pii.find, a built-in that scans
# the text once: email addresses, phone numbers, credit card numbers
# (Luhn-checked), US social security numbers (never-issued ranges left out)
# and IBANs (mod-97 check digits verified).
package tollgate.lib.pii

kinds := {"email", "phone", "credit_card", "ssn", "iban"}

# findings(text, wanted) is the set of wanted kinds of personal data in text.
findings(text, wanted) := {kind | some kind, _ in tollgate.pii.find(text); kind in wanted}

# redact(text, wanted) replaces each finding with [REDACTED:<kind>].
redact(text, wanted) := strings.replace_n(
	{m: sprintf("[REDACTED:%s]", [kind]) | some kind, ms in tollgate.pii.find(text); kind in wanted; some m in ms},
	text,
)
