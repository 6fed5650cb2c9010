"""Money: integer minor units plus an ISO 4217 currency, as Stripe counts it. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, is_currency


class CurrencyMismatch(TypeError):
    """Arithmetic between two currencies, which has no meaning without an exchange rate."""


def minor_digits(currency: str) -> int:
    return get_currency_precision(currency)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount is an integer number of minor units")
        if not is_currency(self.currency):
            raise ValueError(f"unknown currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str | Decimal, currency: str) -> Money:
        """``"1234.50"`` → ``Money(123450, "EUR")``; more decimals than the currency has is
        an error rather than a silent rounding."""
        try:
            value = Decimal(str(text).strip().replace(",", ""))
        except InvalidOperation as error:
            raise ValueError(f"{text!r} is not an amount") from error
        if not value.is_finite():
            raise ValueError(f"{text!r} is not an amount")
        digits = minor_digits(currency)
        scaled = value.scaleb(digits)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{currency} amounts have at most {digits} decimals")
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_digits(self.currency))

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int) or isinstance(factor, bool):
            raise TypeError("multiply Money by an integer; use .percent() for rates")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def percent(self, rate: Decimal) -> Money:
        """``rate`` percent of this amount, rounded half-up to the minor unit (tax per line)."""
        share = (Decimal(self.amount) * Decimal(rate) / 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return Money(int(share), self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def format(self, locale: str = "en_US") -> str:
        return _formatted(self.amount, self.currency, locale)

    def __str__(self) -> str:
        return self.format()


@lru_cache(maxsize=8192)
def _formatted(amount: int, currency: str, locale: str) -> str:
    """Babel parses its pattern on every call; prices repeat on every page, so remember them."""
    value = Decimal(amount).scaleb(-minor_digits(currency))
    return format_currency(value, currency, locale=locale)


def total(amounts: list[Money], currency: str) -> Money:
    """Sum that refuses mixed currencies and has a currency even when empty."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
