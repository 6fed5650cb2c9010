"""Forms of the success plans. Numbers are typed as plain decimals (``core.form_fields``:
bounded, no exponent, no NaN); the services check every rule again."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from core.form_fields import PlainDecimalField
from success import plans

# Twelve digits before the point: up to MAX_MAGNITUDE (a trillion), four after it.
_NUMBER = {"whole_digits": 12, "places": 4}


class StartPlanForm(FlaskForm):
    quarter = SelectField("Quarter")
    submit = SubmitField("Start plan")


class PlanSummaryForm(FlaskForm):
    summary = TextAreaField(
        "Summary",
        validators=[Optional(), Length(max=plans.MAX_SUMMARY)],
        description="What the customer wants to achieve this quarter, in their words.",
    )
    submit = SubmitField("Save summary")


class GoalForm(FlaskForm):
    title = StringField(
        "Goal",
        validators=[InputRequired(), Length(max=plans.MAX_TITLE)],
        description="e.g. Roll out single sign-on to every team.",
    )
    measure = StringField(
        "Measure",
        validators=[InputRequired(), Length(max=plans.MAX_MEASURE)],
        description="What is counted, e.g. Weekly active users.",
    )
    unit = StringField("Unit", validators=[Optional(), Length(max=plans.MAX_UNIT)])
    baseline = PlainDecimalField(
        "Baseline",
        validators=[Optional()],
        description="Where it stood at the start; 0 when empty.",
        **_NUMBER,
    )
    target = PlainDecimalField("Target", validators=[InputRequired()], **_NUMBER)
    current = PlainDecimalField(
        "Current",
        validators=[Optional()],
        description="Where it stands now; the baseline when empty.",
        **_NUMBER,
    )
    servlet_ids = SelectMultipleField(
        "Servlets that serve it",
        coerce=int,
        validators=[Optional()],
        description=f"Up to {plans.MAX_SERVLETS_PER_GOAL}.",
    )
    submit = SubmitField("Save goal")

    def values(self) -> plans.GoalValues:
        def number(field: PlainDecimalField) -> float | None:
            return None if field.data is None else float(field.data)

        return plans.GoalValues(
            title=self.title.data or "",
            measure=self.measure.data or "",
            unit=self.unit.data or "",
            baseline=number(self.baseline),
            target=number(self.target),
            current=number(self.current),
            servlet_ids=list(self.servlet_ids.data or []),
        )


class DeleteGoalForm(FlaskForm):
    submit = SubmitField("Delete goal")
