"""The one set of parsers every typed value goes through: ids, whole numbers, plain decimals,
dates. Each refuses what does not fit with a message, never by overflowing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.bounds import (
    MAX_ID,
    OutOfBounds,
    TooLarge,
    TooManyDecimals,
    parse_day,
    parse_decimal,
    parse_id,
    parse_int,
    plain_decimal,
)


@pytest.mark.parametrize("text", ["1", " 42 ", str(MAX_ID)])
def test_an_id_is_a_whole_number_an_id_column_holds(text):
    assert parse_id(text) == int(text)


@pytest.mark.parametrize("text", ["0", "-1", str(MAX_ID + 1), "9" * 5000, "1e3", "١٢٣", "1_0", ""])
def test_anything_else_is_not_an_id(text):
    with pytest.raises(OutOfBounds, match="an id"):
        parse_id(text)


def test_a_whole_number_out_of_its_range_says_the_range():
    with pytest.raises(OutOfBounds, match="from 1 to 10,000"):
        parse_int("10001", 1, 10_000)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234.50", Decimal("1234.50")), ("-.5", Decimal("-0.5")), ("7.", Decimal("7"))],
)
def test_a_plain_decimal_is_read_exactly(text, value):
    assert parse_decimal(text, whole_digits=6, places=2) == value


@pytest.mark.parametrize("text", ["1e999999", "1e-1000020", "NaN", "sNaN", "-Infinity", "0x1F", ""])
def test_exponents_and_special_values_are_not_plain_decimals(text):
    with pytest.raises(OutOfBounds, match="plain number"):
        parse_decimal(text, whole_digits=6, places=2)


def test_a_decimal_is_bounded_in_digits_on_both_sides_of_the_point():
    with pytest.raises(TooLarge):
        parse_decimal("1234567", whole_digits=6, places=2)
    with pytest.raises(TooManyDecimals):
        parse_decimal("1.005", whole_digits=6, places=2)
    assert parse_decimal("000123.4500", whole_digits=3, places=2) == Decimal("123.45")


@given(st.text(max_size=60))
def test_no_text_makes_the_decimal_parser_fail_otherwise(text):
    try:
        value = parse_decimal(text, whole_digits=15, places=6)
    except OutOfBounds:
        return
    assert len(plain_decimal(value)) <= 1 + 15 + 1 + 6


@pytest.mark.parametrize(("value", "text"), [("2.50", "2.5"), ("-0.00", "0"), ("1E+3", "1000")])
def test_plain_decimals_are_written_without_exponent_or_trailing_zeros(value, text):
    assert plain_decimal(Decimal(value)) == text


def test_a_day_is_an_iso_date_within_two_centuries():
    assert parse_day("2030-01-15") == date(2030, 1, 15)
    for text in ["9999-12-31", "0001-01-01", "2024-02-30", "20300115", "2030-W03-1", "15/01/2030"]:
        with pytest.raises(OutOfBounds):
            parse_day(text)
