"""Forms of the usage-signal pages: a vendor's own signal type, and the CSV upload. The
services check everything again; these only shape what the person typed."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, SubmitField
from wtforms.validators import InputRequired, Length


class SignalTypeForm(FlaskForm):
    key = StringField(
        "Key",
        validators=[InputRequired("Give the key the CSV's signal column uses."), Length(max=40)],
        description="What the CSV's signal column says: lower_snake_case, e.g. api_calls.",
    )
    name = StringField(
        "Name",
        validators=[InputRequired("Give the name pages show."), Length(max=80)],
        description="What pages call it, e.g. API calls.",
    )
    submit = SubmitField("Add signal type")


class SignalUploadForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose a CSV file to upload.")],
        description="Columns account, signal, date, value; the first row names them.",
    )
    submit = SubmitField("Upload signals")


class ConfirmForm(FlaskForm):
    """A button that posts (with its CSRF token) after a confirmation page."""

    submit = SubmitField("Delete signal type")
