"""Forms of the customer's decisions (accept, rework, rating) and of change orders. Bounds
are checked again by the services, which word the refusals the pages show."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from delivery import acceptance, change_orders


class AcceptForm(FlaskForm):
    submit = SubmitField("Accept delivery")


class ReworkForm(FlaskForm):
    reason = TextAreaField(
        "What should be reworked?",
        validators=[
            DataRequired(message="Tell the delivery team what to rework."),
            Length(max=acceptance.MAX_REASON),
        ],
    )
    submit = SubmitField("Request rework")


class RatingForm(FlaskForm):
    csat = RadioField(
        "How satisfied are you with this engagement?",
        choices=[
            SelectChoice(1, "1 · Very unsatisfied"),
            *[SelectChoice(n, str(n)) for n in (2, 3, 4)],
            SelectChoice(5, "5 · Very satisfied"),
        ],
        coerce=int,
        validators=[InputRequired(message="Choose from 1 to 5.")],
    )
    comment = TextAreaField("Comment (optional)", validators=[Length(max=acceptance.MAX_COMMENT)])
    nps = SelectField(
        "How likely are you to recommend us to a colleague? (optional)",
        choices=[
            SelectChoice("", "No answer"),
            *[SelectChoice(str(n), str(n)) for n in acceptance.NPS_RANGE],
        ],
        validators=[Optional()],
        description="0 = not at all likely, 10 = extremely likely.",
    )
    submit = SubmitField("Send rating")

    @property
    def nps_value(self) -> int | None:
        return int(self.nps.data) if self.nps.data else None


class ChangeOrderForm(FlaskForm):
    description = TextAreaField(
        "What changes",
        validators=[
            DataRequired(message="Describe the change for the customer."),
            Length(max=change_orders.MAX_DESCRIPTION),
        ],
    )
    tasks = TextAreaField(
        "New tasks (optional)",
        description=f"One per line, at most {change_orders.MAX_TASKS}; they follow the "
        "existing tasks.",
        validators=[Length(max=change_orders.MAX_TASKS * (change_orders.MAX_TASK_TITLE + 2))],
    )
    extra_days = IntegerField(
        "Extra business days",
        default=0,
        validators=[
            InputRequired(message="Enter 0 or more days."),
            NumberRange(min=0, max=change_orders.MAX_EXTRA_DAYS),
        ],
        description="Deliver-by moves by this many business days when approved.",
    )
    extra_hours = StringField(
        "Extra hours",
        default="0",
        validators=[Length(max=20)],
        description="Added to the estimate.",
    )
    price = StringField(
        "Price difference",
        default="0",
        validators=[Length(max=30)],
        description="Added to the order and invoiced; zero or more.",
    )
    submit = SubmitField("Propose change order")

    def proposal(self) -> change_orders.Proposal:
        return change_orders.Proposal(
            description=self.description.data or "",
            tasks=self.tasks.data or "",
            extra_days=self.extra_days.data,
            extra_hours=self.extra_hours.data or "0",
            price=self.price.data or "0",
        )


class ApproveChangeForm(FlaskForm):
    submit = SubmitField("Approve change order")


class DeclineChangeForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[
            DataRequired(message="Tell the delivery manager why."),
            Length(max=change_orders.MAX_REASON),
        ],
    )
    submit = SubmitField("Decline change order")


class WithdrawChangeForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Length(max=change_orders.MAX_REASON)])
    submit = SubmitField("Withdraw change order")
