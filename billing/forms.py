"""Forms of the invoice pages and billing settings. Amounts are typed as text and parsed by
``Money.parse`` in the invoice's currency (never a float); tax rates as plain decimals."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from billing import profiles
from billing.invoices import MAX_DESCRIPTION, MAX_NOTES, MAX_PO, MAX_QUANTITY, MAX_TERMS_DAYS
from core.errors import ServiceError
from core.form_fields import IdField, PlainDecimalField

TAX_RATE_RANGE = NumberRange(min=0, max=100, message="A percentage from 0 to 100.")


class NewInvoiceForm(FlaskForm):
    """An empty draft for one customer, filled by hand afterwards."""

    customer_id = SelectField("Customer", coerce=int, validators=[InputRequired()])
    submit = SubmitField("Start a draft")


class FromUninvoicedForm(FlaskForm):
    customer_id = IdField(validators=[InputRequired()])
    submit = SubmitField("Draft from uninvoiced items")


class InvoiceLineForm(FlaskForm):
    description = StringField(
        "Description",
        validators=[
            InputRequired(message="Describe what is billed."),
            Length(max=MAX_DESCRIPTION),
        ],
    )
    quantity = IntegerField(
        "Quantity",
        default=1,
        validators=[
            InputRequired(message="Enter a quantity."),
            NumberRange(min=1, max=MAX_QUANTITY, message=f"From 1 to {MAX_QUANTITY:,}."),
        ],
    )
    unit_price = StringField(
        "Unit price",
        validators=[InputRequired(message="Enter a price, e.g. 1,000.10."), Length(max=30)],
    )
    tax_rate = PlainDecimalField(
        "Tax rate (%)",
        whole_digits=3,
        places=2,
        validators=[Optional(), TAX_RATE_RANGE],
        description="Leave empty for the customer's rate.",
    )
    submit = SubmitField("Add line")


class InvoiceDetailsForm(FlaskForm):
    po_number = StringField("PO number", validators=[Length(max=MAX_PO)])
    terms_days = IntegerField(
        "Payment terms (days)",
        validators=[
            InputRequired(message="Enter a number of days."),
            NumberRange(min=0, max=MAX_TERMS_DAYS, message=f"From 0 to {MAX_TERMS_DAYS}."),
        ],
        description="The due date is the issue date plus these days.",
    )
    notes = TextAreaField(
        "Notes",
        validators=[Length(max=MAX_NOTES)],
        description="Printed on the invoice.",
    )
    submit = SubmitField("Save details")


class ConfirmForm(FlaskForm):
    """A bare POST with CSRF: issue, discard, remove a line."""

    submit = SubmitField()


class VendorBillingForm(FlaskForm):
    legal_name = StringField(
        "Legal name",
        validators=[Length(max=200)],
        description="As registered; printed as the seller. Empty: the vendor's name.",
    )
    address = TextAreaField("Address", validators=[Length(max=1000)])
    tax_id = StringField("Tax id", validators=[Length(max=64)], description="E.g. VAT number.")
    bank_details = TextAreaField(
        "Bank details",
        validators=[Length(max=1000)],
        description="How to pay by bank transfer (IBAN, BIC, bank); printed on every invoice.",
    )
    tax_rate = PlainDecimalField(
        "Default tax rate (%)",
        whole_digits=3,
        places=2,
        validators=[InputRequired(message="Enter a rate, e.g. 19."), TAX_RATE_RANGE],
    )
    invoice_prefix = StringField(
        "Invoice prefix",
        validators=[
            InputRequired(message="Enter a prefix, e.g. ACME."),
            Length(max=12),
            Regexp(
                r"^[A-Z0-9]+(-[A-Z0-9]+)*$",
                message="Capital letters, digits and single dashes, e.g. ACME or ACME-EU.",
            ),
        ],
        description="Numbers read PREFIX-YEAR-000001. Changes apply to invoices issued later.",
    )
    payment_terms_days = IntegerField(
        "Payment terms (days)",
        validators=[
            InputRequired(message="Enter a number of days."),
            NumberRange(min=0, max=MAX_TERMS_DAYS, message=f"From 0 to {MAX_TERMS_DAYS}."),
        ],
    )
    review_days = IntegerField(
        "Review period (days)",
        validators=[
            InputRequired(message="Enter a number of days."),
            NumberRange(min=0, max=60, message="From 0 to 60."),
        ],
        description="How long a draft made by a billing policy waits for finance.",
    )
    submit = SubmitField("Save billing settings")


class CustomerBillingForm(FlaskForm):
    legal_name = StringField(
        "Legal name",
        validators=[Length(max=200)],
        description="Printed as the buyer. Empty: the customer's name.",
    )
    address = TextAreaField("Address", validators=[Length(max=1000)])
    tax_id = StringField("Tax id", validators=[Length(max=64)])
    billing_emails = TextAreaField(
        "Billing emails",
        validators=[Length(max=1000)],
        description="Who receives invoices and reminders; separate addresses with commas.",
    )
    tax_rate = PlainDecimalField(
        "Tax rate override (%)",
        whole_digits=3,
        places=2,
        validators=[Optional(), TAX_RATE_RANGE],
        description="Empty: the vendor's default rate. 0 for reverse charge.",
    )
    tax_note = StringField(
        "Tax note",
        validators=[Length(max=200)],
        description="Printed with the rate, e.g. “Reverse charge: VAT to be accounted for by "
        "the recipient.”",
    )
    submit = SubmitField("Save customer billing")

    def validate_billing_emails(self, field: TextAreaField) -> None:
        try:
            profiles.billing_emails(field.data or "")
        except ServiceError as error:
            raise ValidationError(error.message.removeprefix("Billing emails: ")) from error
