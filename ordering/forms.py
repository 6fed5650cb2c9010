"""Forms of the ordering area. None carries a price: prices come from the catalog."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.form_fields import DayField, IdField
from ordering.entitlements import MAX_CREDITS
from ordering.models import MAX_QUANTITY
from ordering.payments import MAX_REASON

QUANTITY_RANGE = NumberRange(
    min=1, max=MAX_QUANTITY, message=f"A whole number from 1 to {MAX_QUANTITY}."
)
QUANTITY_RULES = [InputRequired(message="Enter a quantity."), QUANTITY_RANGE]


class AddToCartForm(FlaskForm):
    servlet_id = IdField(validators=[InputRequired()])
    catalog_id = IdField(validators=[Optional()])
    quantity = IntegerField(
        "Quantity",
        default=1,
        validators=[Optional(), QUANTITY_RANGE],
    )
    submit = SubmitField("Add to cart")


class QuantityForm(FlaskForm):
    quantity = IntegerField("Quantity", validators=QUANTITY_RULES)
    submit = SubmitField("Update")


class CheckoutForm(FlaskForm):
    """The fixed part of checkout; intake answers are rendered per question and read from the
    request by the view (see ``ordering.intake`` for their rules)."""

    checkout_token = HiddenField(validators=[DataRequired(), Length(max=64)])
    terms_version = HiddenField(validators=[Length(max=20)])
    po_number = StringField(
        "PO number (optional)",
        validators=[Length(max=64, message="At most 64 characters.")],
        description="Shown on the order form and on invoices.",
    )
    payment_route = SelectField("Payment", validators=[InputRequired()])
    accept_terms = BooleanField("I accept the terms of service")
    submit = SubmitField("Place order")


class ApproveForm(FlaskForm):
    reason = TextAreaField("Note (optional)", validators=[Length(max=1000)])
    submit = SubmitField("Approve")


class RejectForm(FlaskForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Tell the buyer why."), Length(max=1000)]
    )
    submit = SubmitField("Reject")


class CancelForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Length(max=1000)])
    submit = SubmitField("Cancel order")


class GrantForm(FlaskForm):
    customer_id = SelectField("Customer", coerce=int, validators=[InputRequired()])
    target = SelectField(
        "Credits for",
        validators=[InputRequired()],
        description="One servlet, or any servlet of a kind.",
    )
    quantity = IntegerField(
        "Credits",
        validators=[
            InputRequired(message="Enter how many."),
            NumberRange(min=1, max=MAX_CREDITS, message=f"From 1 to {MAX_CREDITS:,}."),
        ],
    )
    valid_from = DayField("Valid from", validators=[InputRequired(message="Enter a date.")])
    valid_until = DayField("Valid until", validators=[InputRequired(message="Enter a date.")])
    note = StringField(
        "Note",
        validators=[Length(max=500)],
        description="E.g. Premier plan: 2 health checks a year",
    )
    submit = SubmitField("Grant credits")


def choice(value: str, label: str) -> SelectChoice:
    return SelectChoice(value, label)


class PayForm(FlaskForm):
    submit = SubmitField("Pay by card")


class RefundForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired(message="Say why."), Length(max=MAX_REASON)],
        description="Kept in the audit log. The customer gets an email when Stripe refunds.",
    )
    submit = SubmitField("Refund card payment")
