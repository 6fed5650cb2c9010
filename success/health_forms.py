"""Forms of the health pages: a segment's weights and bands, and the early-warning
thresholds. Fields take whole numbers; the services (``success.health``,
``success.early_warning``) say why a set of them is refused (a sum that is not 100)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from success.health import MAX_SEGMENT
from success.health_components import LABELS
from success.health_models import HealthComponent

# Bounds wide enough that the service, not the field, words the refusal of a negative weight.
_WHOLE = NumberRange(min=-1_000, max=1_000, message="A whole number, please.")


class HealthModelForm(FlaskForm):
    segment = StringField(
        "Segment",
        validators=[Optional(), Length(max=MAX_SEGMENT)],
        description="Empty: the default for every segment without weights of its own.",
    )
    red_below = IntegerField(
        "Red below", validators=[InputRequired(), _WHOLE], description="A score under this is red."
    )
    green_from = IntegerField(
        "Green from",
        validators=[InputRequired(), _WHOLE],
        description="A score of this or more is green; between the two, amber.",
    )
    submit = SubmitField("Save weights")

    def weight_fields(self) -> list[IntegerField]:
        return [self[f"weight_{component.value}"] for component in HealthComponent]


for _component in HealthComponent:
    setattr(
        HealthModelForm,
        f"weight_{_component.value}",
        IntegerField(LABELS[_component], validators=[InputRequired(), _WHOLE]),
    )


class RemoveModelForm(FlaskForm):
    segment = HiddenField(validators=[InputRequired(), Length(max=MAX_SEGMENT)])
    submit = SubmitField("Use the default weights")


class ThresholdsForm(FlaskForm):
    warning_below = IntegerField(
        "Warn under a score of",
        validators=[InputRequired(), _WHOLE],
        description="Accounts scoring less are on the early-warning list.",
    )
    warning_drop = IntegerField(
        "Warn on a fall of (points in 30 days)", validators=[InputRequired(), _WHOLE]
    )
    submit = SubmitField("Save thresholds")
