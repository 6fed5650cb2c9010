"""Forms of the account page. Enums are offered as choices and checked again by the
services; ARR is typed as text and parsed by ``Money.parse`` in the account's currency."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from catalog.models import LifecycleStage
from core.form_fields import DayField
from success import accounts
from success.models import ContactRole, TouchModel


def _choices(enum: type) -> list[SelectChoice]:
    return [SelectChoice(member.value, member.label) for member in enum]


class AccountRecordForm(FlaskForm):
    segment = StringField(
        "Segment",
        validators=[Optional(), Length(max=accounts.MAX_SEGMENT)],
        description="e.g. Enterprise, Mid-market: the segments in use are suggested.",
    )
    touch_model = SelectField("Touch model", choices=_choices(TouchModel))
    stage = SelectField("Life-cycle stage", choices=_choices(LifecycleStage))
    renewal_date = DayField("Renewal date", validators=[Optional()])
    arr = StringField(
        "ARR", validators=[Optional(), Length(max=40)], description="Annual recurring revenue."
    )
    licences_bought = IntegerField(
        "Licences bought",
        validators=[Optional(), NumberRange(min=0, max=accounts.MAX_LICENCES)],
    )
    submit = SubmitField("Save account record")


class OwnerForm(FlaskForm):
    csm_id = SelectField("Owning CSM", coerce=int)
    submit = SubmitField("Assign owner")


class ContactForm(FlaskForm):
    role = SelectField("Role", choices=_choices(ContactRole))
    name = StringField("Name", validators=[InputRequired(), Length(max=accounts.MAX_NAME)])
    email = StringField("Email", validators=[Optional(), Length(max=254)])
    since = DayField("Since", validators=[Optional()], description="Today when left empty.")
    submit = SubmitField("Save key contact")


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[InputRequired(), Length(max=accounts.MAX_NOTE)])
    submit = SubmitField("Add note")


class CsmAccessForm(FlaskForm):
    own_only = BooleanField("Each CSM sees only the accounts they own")
    submit = SubmitField("Save access")
