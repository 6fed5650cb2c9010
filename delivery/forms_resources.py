"""Forms of resources, time off, holidays and allocation. Amounts are typed in the vendor's
currency and parsed by ``core.money``; the services check the rest."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from core.form_fields import DayField, PlainDecimalField
from core.money import Money
from delivery.resources import MAX_NOTE, MAX_WEEKLY_HOURS


class MoneyField(StringField):
    """An amount in ``currency`` (set by the view before validation); ``money`` holds it
    parsed, or ``None`` when left empty."""

    currency = "USD"
    money: Money | None = None

    def pre_validate(self, form: Any) -> None:
        self.money = None
        text = (self.data or "").strip()
        if text:
            try:
                self.money = Money.parse(text, self.currency)
            except ValueError as error:
                raise ValidationError(f"{error}.") from error


class ResourceForm(FlaskForm):
    membership_id = SelectField(
        "Person",
        coerce=int,
        validators=[InputRequired(message="Choose who.")],
        description="A consultant of yours, or a partner's consultant.",
    )
    skills = StringField(
        "Skills",
        validators=[Length(max=1000)],
        description="Comma-separated, e.g. SSO, Data migration, Reporting.",
    )
    weekly_capacity_hours = PlainDecimalField(
        "Weekly capacity (hours)",
        whole_digits=3,
        places=0,
        default=40,
        validators=[
            InputRequired(message="Enter the hours a week."),
            NumberRange(min=0, max=MAX_WEEKLY_HOURS, message=f"0 to {MAX_WEEKLY_HOURS} hours."),
        ],
    )
    cost_rate = MoneyField(
        "Cost rate per hour",
        validators=[Length(max=40)],
        description="Internal: what an hour of a consultant of yours costs. Not for partners.",
    )
    fee = MoneyField(
        "Fee per servlet",
        validators=[Length(max=40)],
        description="What you pay the partner for each engagement its consultant delivers.",
    )
    active = BooleanField("Active (offered for allocation)", default=True)
    submit = SubmitField("Save resource")

    def set_currency(self, currency: str) -> None:
        self.cost_rate.currency = self.fee.currency = currency
        self.cost_rate.label.text = f"Cost rate per hour ({currency})"
        self.fee.label.text = f"Fee per servlet ({currency})"


class TimeOffForm(FlaskForm):
    starts_on = DayField("First day", validators=[InputRequired(message="Enter a date.")])
    ends_on = DayField("Last day", validators=[InputRequired(message="Enter a date.")])
    note = StringField("Note", validators=[Length(max=MAX_NOTE)], description="E.g. Vacation")
    submit = SubmitField("Add time off")


class HolidayForm(FlaskForm):
    day = DayField("Day", validators=[InputRequired(message="Enter a date.")])
    name = StringField(
        "Name",
        validators=[InputRequired(message="Name the holiday."), Length(max=80)],
        description="E.g. Christmas Day",
    )
    submit = SubmitField("Add holiday")


class AllocateForm(FlaskForm):
    target = SelectField(
        "Delivered by",
        validators=[InputRequired(message="Choose a resource or a partner.")],
        description="A resource, or a partner whose manager then names a consultant.",
    )
    starts_on = DayField("From", validators=[InputRequired(message="Enter a date.")])
    ends_on = DayField("To", validators=[InputRequired(message="Enter a date.")])
    planned_hours = PlainDecimalField(
        "Planned hours",
        whole_digits=4,
        places=2,
        validators=[InputRequired(message="Enter the hours planned.")],
    )
    seen_assignments = HiddenField()
    confirm_over_capacity = BooleanField("Allocate beyond capacity anyway")
    submit = SubmitField("Allocate")


class NameConsultantForm(FlaskForm):
    resource_id = SelectField(
        "Consultant", coerce=int, validators=[InputRequired(message="Choose a consultant.")]
    )
    submit = SubmitField("Name consultant")
