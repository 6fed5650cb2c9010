"""Money: integer minor units plus an ISO 4217 currency, as Stripe counts it. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, is_currency

from core.bounds import OutOfBounds, TooLarge, TooManyDecimals, parse_decimal

# Digits before the decimal point of a typed amount: with up to three minor digits it still
# fits a BIGINT of minor units, and it is far beyond any price this product handles.
MAX_WHOLE_DIGITS = 15


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
    def parse(cls, text: str, currency: str) -> Money:
        """``"1234.50"`` → ``Money(123450, "EUR")``; more decimals than the currency has is
        an error rather than a silent rounding, and so is an exponent (``1e999999``) or an
        amount too large for a 64-bit count of minor units."""
        digits = minor_digits(currency)
        try:
            value = parse_decimal(text, whole_digits=MAX_WHOLE_DIGITS, places=digits)
        except TooManyDecimals as error:
            raise ValueError(f"{currency} amounts have at most {digits} decimals") from error
        except TooLarge as error:
            raise ValueError(f"“{text.strip()[:40]}” is too large an amount") from error
        except OutOfBounds as error:
            raise ValueError(f"“{text.strip()[:40]}” is not an amount") from error
        return cls(int(value.scaleb(digits)), currency)

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
