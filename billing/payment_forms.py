"""Forms of payments, refunds and credit. Amounts are typed as people write them ("1,000.10")
and parsed exactly by ``core.money``; the services check the rest (sign, currency, dates,
the invoice's state) and say what is wrong."""

from __future__ import annotations

import secrets
from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from billing.payments import MAX_REFERENCE
from billing.refunds import MAX_REASON
from core.form_fields import DayField
from core.money import Money

AMOUNT_HELP = "As on the bank statement, e.g. 1,000.10."


def one_time_key() -> str:
    """The key a rendered form carries: submitted twice, it records once."""
    return secrets.token_urlsafe(24)


class AmountField(StringField):
    """An amount in ``currency`` (set by the view) or, when the form has one, in its
    ``currency`` field's; ``money`` holds it parsed."""

    currency = ""
    money: Money | None = None

    def pre_validate(self, form: Any) -> None:
        self.money = None
        text = (self.data or "").strip()
        typed = form["currency"].data if "currency" in form else ""
        currency = (self.currency or typed or "").strip().upper()
        if not text:
            raise ValidationError("Enter an amount.")
        try:
            self.money = Money.parse(text, currency)
        except ValueError as error:
            message = str(error)
            if "unknown currency" in message:
                raise ValidationError("Enter a currency such as USD or EUR.") from error
            raise ValidationError(f"{message[:1].upper()}{message[1:]}.") from error


class RecordPaymentForm(FlaskForm):
    currency = StringField(
        "Currency",
        validators=[DataRequired(message="Enter a currency."), Length(max=3)],
        description="The currency the money arrived in.",
    )
    amount = AmountField("Amount received", validators=[Length(max=40)], description=AMOUNT_HELP)
    received_on = DayField("Received on", validators=[InputRequired(message="Enter a date.")])
    reference = StringField(
        "Reference",
        validators=[Length(max=MAX_REFERENCE)],
        description="The bank's reference or the payer's remittance note.",
    )
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=64)])
    submit = SubmitField("Record payment")


class RefundForm(FlaskForm):
    amount = AmountField("Amount refunded", validators=[Length(max=40)])
    refunded_on = DayField("Refunded on", validators=[InputRequired(message="Enter a date.")])
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(message="Say why."), Length(max=MAX_REASON)],
        description="Kept with the refund and in the audit log.",
    )
    submit = SubmitField("Record refund")


class ApplyCreditForm(FlaskForm):
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=64)])
    submit = SubmitField("Apply credit")


class PayInvoiceForm(FlaskForm):
    submit = SubmitField("Pay by card")
