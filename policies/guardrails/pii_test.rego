package tollgate.guardrails.pii_test

import data.tollgate.request
import data.tollgate.testing.chat

test_clean_prompt_passes if {
	count(request.deny) == 0 with input as chat("What is the capital of France? Call it 555 times.")
}

test_each_kind_is_found if {
	cases := {
		"email": "write to jane.doe@example.com today",
		"phone": "call me at (415) 555-0132",
		"credit_card": "my card is 4111 1111 1111 1111",
		"ssn": "ssn 123-45-6789",
		"iban": "pay to GB82 WEST 1234 5698 7654 32",
	}
	every kind, text in cases {
		found := data.tollgate.guardrails.pii.found with input as chat(text)
		found == {kind}
	}
}

test_deny_names_the_kinds if {
	d := request.deny with input as chat("mail a@b.io or call +14155550132")
	d == {"the prompt contains personal data (email, phone): remove it and try again"}
}

test_card_number_failing_luhn_is_not_a_card if {
	found := data.tollgate.guardrails.pii.found with input as chat("order 4111 1111 1111 1112")
	not "credit_card" in found
}

test_iban_with_bad_check_digits_is_not_an_iban if {
	found := data.tollgate.guardrails.pii.found with input as chat("ref GB83 WEST 1234 5698 7654 32")
	not "iban" in found
}

test_ssn_never_issued_is_not_an_ssn if {
	found := data.tollgate.guardrails.pii.found with input as chat("ids 000-12-3456 and 666-12-3456 and 912-12-3456")
	not "ssn" in found
}

test_redact_patches_the_message_and_allows if {
	inp := chat("mail jane@example.com now")
	cfg := {"pii": {"action": "redact"}}
	count(request.deny) == 0 with input as inp with data.tollgate.config as cfg
	p := request.patch with input as inp with data.tollgate.config as cfg
	p == {"messages.0.content": "mail [REDACTED:email] now"}
	h := request.headers with input as inp with data.tollgate.config as cfg
	h["x-tollgate-pii-redacted"] == "email"
}

test_kinds_limit_what_is_looked_for if {
	count(request.deny) == 0 with input as chat("mail jane@example.com") with data.tollgate.config as {"pii": {"kinds": ["credit_card"]}}
}

test_off if {
	count(request.deny) == 0 with input as chat("ssn 123-45-6789") with data.tollgate.config as {"pii": {"action": "off"}}
}
