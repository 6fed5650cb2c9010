"""Intake answers are stored as the customer meant them, in bounded, plain text."""

from __future__ import annotations

import pytest

from catalog.models import QuestionType
from ordering.intake import AnswerError, Question, clean_answer

NUMBER = Question(index=0, label="Users", type=QuestionType.NUMBER, required=True, choices=())


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("250", "250"), ("1,250.50", "1250.5"), (" -0.000 ", "0"), ("+7.250000", "7.25")],
)
def test_a_number_answer_is_stored_as_a_plain_decimal(typed, stored):
    assert clean_answer(NUMBER, typed) == stored


@pytest.mark.parametrize(
    "typed", ["1e-1000020", "1e3", "Infinity", "١٢٣", "9" * 13, "0." + "1" * 7]
)
def test_a_number_answer_with_an_exponent_or_too_many_digits_is_refused(typed):
    with pytest.raises(AnswerError):
        clean_answer(NUMBER, typed)


def test_no_number_answer_is_stored_longer_than_twenty_characters():
    assert len(clean_answer(NUMBER, "-999,999,999,999.999999")) == 20
