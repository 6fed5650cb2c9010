from decimal import Decimal

import pytest

from core.money import CurrencyMismatch, Money, total


def test_adding_and_subtracting_keeps_minor_units_exact():
    assert Money(1999, "USD") + Money(1, "USD") == Money(2000, "USD")
    assert Money(500, "EUR") - Money(750, "EUR") == Money(-250, "EUR")
    assert Money(333, "USD") * 3 == Money(999, "USD")


def test_mixing_currencies_is_refused():
    with pytest.raises(CurrencyMismatch):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        assert Money(100, "USD") < Money(100, "EUR")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        Money(10.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(100, "USD") * 1.5  # type: ignore[operator]


def test_a_yes_or_no_is_not_a_quantity():
    with pytest.raises(TypeError, match="multiply Money by an integer"):
        Money(100, "USD") * True
    with pytest.raises(TypeError, match=r"Money\.amount is an integer"):
        Money(True, "USD")


def test_parse_accepts_the_currency_precision_and_refuses_more():
    assert Money.parse("1234.50", "USD") == Money(123450, "USD")
    assert Money.parse("1,000", "JPY") == Money(1000, "JPY")
    with pytest.raises(ValueError, match="at most 2 decimals"):
        Money.parse("10.005", "EUR")
    with pytest.raises(ValueError, match="at most 0 decimals"):
        Money.parse("10.5", "JPY")
    with pytest.raises(ValueError, match="not an amount"):
        Money.parse("ten", "USD")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e999999", "not an amount"),
        ("1e-1000020", "not an amount"),
        ("1e3", "not an amount"),
        ("Infinity", "not an amount"),
        ("9" * 5000, "not an amount"),
        ("1" + "0" * 15, "too large an amount"),
    ],
)
def test_parse_refuses_exponents_and_amounts_too_large_to_count_in_minor_units(text, message):
    with pytest.raises(ValueError, match=message):
        Money.parse(text, "USD")


def test_parse_takes_the_largest_amount_that_fits_in_minor_units():
    assert Money.parse("999,999,999,999,999.999", "BHD").amount == 999_999_999_999_999_999


def test_percent_rounds_half_up_per_line():
    assert Money(1050, "USD").percent(Decimal("10")) == Money(105, "USD")
    assert Money(125, "USD").percent(Decimal("10")) == Money(13, "USD")  # 12.5 -> 13
    assert Money(-125, "USD").percent(Decimal("10")) == Money(-13, "USD")


def test_formatting_uses_the_currency_symbol_and_precision():
    assert Money(123456, "USD").format() == "$1,234.56"
    assert Money(123456, "EUR").format("de_DE") == "1.234,56\xa0€"
    assert Money(5000, "JPY").format() == "¥5,000"


def test_total_of_nothing_is_zero_in_the_given_currency():
    assert total([], "EUR") == Money(0, "EUR")
    assert total([Money(1, "EUR"), Money(2, "EUR")], "EUR") == Money(3, "EUR")


def test_unknown_currency_is_refused():
    with pytest.raises(ValueError, match="unknown currency"):
        Money(1, "XYZ")


def test_comparisons_order_amounts_and_equal_amounts_are_not_less_or_greater():
    small, large, same = Money(100, "USD"), Money(101, "USD"), Money(100, "USD")
    assert [small < large, large < small, small < same] == [True, False, False]
    assert [small <= large, large <= small, small <= same] == [True, False, True]
    assert [large > small, small > large, small > same] == [True, False, False]
    assert [large >= small, small >= large, small >= same] == [True, False, True]
    for compare in (Money.__lt__, Money.__le__, Money.__gt__, Money.__ge__):
        with pytest.raises(CurrencyMismatch):
            compare(small, Money(100, "EUR"))


def test_a_negated_amount_keeps_its_currency():
    assert -Money(250, "EUR") == Money(-250, "EUR")
    assert -Money(-250, "JPY") == Money(250, "JPY")


def test_to_decimal_reads_minor_units_in_the_currencys_precision():
    assert Money(123456, "USD").to_decimal() == Decimal("1234.56")
    assert Money(5000, "JPY").to_decimal() == Decimal("5000")
    assert Money(1, "BHD").to_decimal() == Decimal("0.001")


def refusal(text: str, currency: str = "USD") -> str:
    """The message a person reads under the amount field they filled in."""
    with pytest.raises(ValueError, match="amount") as refused:
        Money.parse(text, currency)
    return str(refused.value)


def test_a_refused_amount_is_explained_in_words_a_person_can_act_on():
    assert refusal("10.005", "EUR") == "EUR amounts have at most 2 decimals"
    assert refusal("10.5", "JPY") == "JPY amounts have at most 0 decimals"
    assert refusal(" ten ") == "“ten” is not an amount"
    assert refusal(" 1" + "0" * 15 + " ") == "“1000000000000000” is too large an amount"


def test_a_refused_amount_is_quoted_up_to_its_first_40_characters():
    thousands = "1" + ",000" * 10  # 41 characters, 31 digits
    assert refusal(thousands) == f"“{thousands[:40]}” is too large an amount"
    assert refusal("x" * 41) == f"“{'x' * 40}” is not an amount"


def test_only_zero_counts_as_nothing():
    assert [bool(Money(0, "USD")), bool(Money(1, "USD")), bool(Money(-1, "USD"))] == [
        False,
        True,
        True,
    ]
