"""Forms of the webhook pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from api.webhook_events import EVENT_TYPES
from api.webhook_models import MAX_URL


class EndpointForm(FlaskForm):
    url = StringField(
        "Endpoint URL",
        validators=[DataRequired("Enter the address to send events to."), Length(max=MAX_URL)],
        description="An https:// address of your server that answers 2xx within 5 seconds.",
    )
    description = StringField(
        "Description", validators=[Length(max=200)], description="What receives these events."
    )
    event_types = SelectMultipleField(
        "Events",
        choices=[SelectChoice(event_type.key, event_type.label) for event_type in EVENT_TYPES],
        validators=[DataRequired("Choose at least one event.")],
    )
    submit = SubmitField("Add endpoint")


class ActionForm(FlaskForm):
    """A button that posts with its CSRF token (enable, disable, rotate, replay, test)."""
