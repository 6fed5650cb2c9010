"""Forms of the NPS answer page and of the follow-ups list. The score is checked here for
the message beside the field and again by ``success.surveys``."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from core.errors import ServiceError
from success import follow_ups, surveys

SCORE_MESSAGE = "Choose a score from 0 (not at all likely) to 10 (extremely likely)."


class NpsAnswerForm(FlaskForm):
    score = RadioField(
        "How likely are you to recommend us to a friend or colleague?",
        choices=[SelectChoice(str(n), str(n)) for n in surveys.SCORES],
        validate_choice=False,
        validators=[InputRequired(message=SCORE_MESSAGE)],
    )
    comment = TextAreaField(
        "What is the main reason for your score? (optional)",
        validators=[Length(max=surveys.MAX_COMMENT)],
    )
    submit = SubmitField("Send my answer")

    def validate_score(self, field: RadioField) -> None:
        try:
            surveys.parse_score(field.data)
        except ServiceError as error:
            raise ValidationError(error.message) from error


class FollowUpDoneForm(FlaskForm):
    outcome = TextAreaField(
        "Outcome",
        validators=[
            InputRequired(message="Say what came of the follow-up."),
            Length(max=follow_ups.MAX_OUTCOME),
        ],
    )
    submit = SubmitField("Mark done")
