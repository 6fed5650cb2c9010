"""Forms of the engagement workspace and of time. Services own the rules (hours in a day,
who may do what); forms only parse and bound what the browser sends."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.form_fields import DayField, PlainDecimalField
from delivery.models import UpdateVisibility
from delivery.moves import MAX_NOTE, MAX_REASON
from delivery.time_entries import MAX_TIME_NOTE
from delivery.updates import MAX_BODY


class DeliverForm(FlaskForm):
    delivery_note = TextAreaField(
        "Delivery note",
        validators=[
            DataRequired(message="Tell the customer what was delivered."),
            Length(max=MAX_NOTE),
        ],
        description="What was delivered and where to find it; the customer reads it.",
    )
    health_score = IntegerField(
        "Health score (0-100)",
        validators=[Optional(), NumberRange(min=0, max=100, message="From 0 to 100.")],
    )
    findings = TextAreaField("Findings", validators=[Length(max=MAX_NOTE)])


class ReasonForm(FlaskForm):
    """Hold: the reason the customer's buyers are told."""

    reason = TextAreaField(
        "Why put it on hold?",
        validators=[DataRequired(message="Say why."), Length(max=MAX_REASON)],
    )


class CancelForm(FlaskForm):
    reason = TextAreaField(
        "Why cancel it?", validators=[DataRequired(message="Say why."), Length(max=MAX_REASON)]
    )
    confirm = BooleanField(
        "Yes, cancel this engagement: no more work happens on it",
        validators=[DataRequired(message="Tick the box to confirm the cancellation.")],
    )


class TaskForm(FlaskForm):
    done = HiddenField(validators=[InputRequired()])


class UpdateForm(FlaskForm):
    body = TextAreaField(
        "Update",
        validators=[DataRequired(message="Write what happened."), Length(max=MAX_BODY)],
    )
    visibility = SelectField(
        "Who sees it",
        choices=[
            SelectChoice(UpdateVisibility.CUSTOMER.value, "The customer and the team"),
            SelectChoice(UpdateVisibility.INTERNAL.value, "Internal: vendor and partners only"),
        ],
        default=UpdateVisibility.CUSTOMER.value,
    )


class UploadForm(FlaskForm):
    file = FileField(
        "Deliverable",
        description="PDF, PNG, JPEG, Word, Excel, PowerPoint, text, CSV or Markdown.",
    )


class TimeForm(FlaskForm):
    day = DayField("Day", validators=[InputRequired(message="Enter the day worked.")])
    hours = PlainDecimalField(
        "Hours",
        whole_digits=2,
        places=2,
        validators=[InputRequired(message="Enter the hours worked, e.g. 1.5.")],
    )
    note = TextAreaField("Note", validators=[Length(max=MAX_TIME_NOTE)])


class DecideTimeForm(FlaskForm):
    """The approval page's bulk decision; the entries' ids come as a list (``entry``)."""

    decision = SelectField(
        "Decision", choices=[SelectChoice("approve", "Approve"), SelectChoice("reject", "Reject")]
    )
    reason = TextAreaField("Reason (to reject)", validators=[Length(max=MAX_REASON)])
