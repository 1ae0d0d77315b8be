package tollgate.output.pii_test

import data.tollgate.response
import data.tollgate.testing.answer

test_clean_answer_passes if {
	count(response.deny) == 0 with input as answer("Paris is the capital of France.")
}

test_answer_with_personal_data_is_withheld if {
	d := response.deny with input as answer("Sure! Her number is 415-555-0132 and card 5500 0000 0000 0004.")
	d == {"the answer contains personal data (credit_card, phone)"}
}

test_off if {
	count(response.deny) == 0 with input as answer("mail bob@example.org") with data.tollgate.config as {"output_pii": {"action": "off"}}
}
