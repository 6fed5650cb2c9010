"""Forms of partner payouts: they parse and bound what the browser sends; the rules (a period
that has ended, a payment day after approval) are ``billing.payouts``'."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from billing.payouts import MAX_REFERENCE
from core.form_fields import DayField


class PrepareForm(FlaskForm):
    period_start = DayField(
        "First day", validators=[InputRequired(message="Enter the period's first day.")]
    )
    period_end = DayField(
        "Last day",
        validators=[InputRequired(message="Enter the period's last day.")],
        description="Engagements accepted from the first to the last day count, both included.",
    )


class PaidForm(FlaskForm):
    paid_on = DayField(
        "Paid on", validators=[InputRequired(message="Enter the day the money was sent.")]
    )
    reference = StringField(
        "Transfer reference",
        validators=[
            InputRequired(message="Enter the reference from the bank statement."),
            Length(max=MAX_REFERENCE),
        ],
        description="As the bank statement shows it, so the partner can match the payment.",
    )
