"""Forms of the catalog. Repeatable rows (deliverables, intake questions) are plain form rows
with a position box and a remove tick, plus blank rows to fill: no JavaScript needed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import list_currencies
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from catalog.content import (
    LIST_FIELDS,
    MAX_DAYS,
    MAX_EFFORT_HOURS,
    MAX_ITEMS,
    MAX_QUESTIONS,
    ServletContent,
    clean_lines,
)
from catalog.models import (
    BillingPolicy,
    DeliveryMode,
    LifecycleStage,
    QuestionType,
    ServletKind,
)
from catalog.queries import SORTS
from core.form_fields import DayField, PlainDecimalField
from core.money import Money


def choices(enum: Any) -> list[SelectChoice]:
    return [SelectChoice(member.value, member.label) for member in enum]


def options(pairs: list[tuple[int, str]]) -> list[SelectChoice]:
    """``(id, name)`` rows as choices of a select box."""
    return [SelectChoice(value, label) for value, label in pairs]


LINES = "One per line."


class DeliverableRow(Form):
    position = IntegerField("Position", validators=[Optional(), NumberRange(min=0, max=999)])
    title = StringField("Deliverable", validators=[Length(max=200)])
    description = StringField("Description", validators=[Length(max=1000)])
    remove = BooleanField("Remove")


class QuestionRow(Form):
    position = IntegerField("Position", validators=[Optional(), NumberRange(min=0, max=999)])
    label = StringField("Question", validators=[Length(max=200)])
    type = SelectField("Answer type", choices=choices(QuestionType), default="text")
    required = BooleanField("Required")
    choices = StringField(
        "Choices", validators=[Length(max=2100)], description="For choice questions: a; b; c"
    )
    remove = BooleanField("Remove")


def _rows(rows: FieldList, keep: Any) -> list[Any]:
    """Filled rows not ticked for removal, in the order of their position boxes."""
    kept = [
        (row.form.position.data or index + 1, index, row.form)
        for index, row in enumerate(rows)
        if not row.form.remove.data and keep(row.form)
    ]
    return [form for _, _, form in sorted(kept, key=lambda t: (t[0], t[1]))]


class ServletForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    kind = SelectField("Kind", choices=choices(ServletKind), validators=[InputRequired()])
    stage = SelectField(
        "Life-cycle stage", choices=choices(LifecycleStage), validators=[InputRequired()]
    )
    outcome = TextAreaField(
        "Outcome",
        validators=[DataRequired(), Length(max=400)],
        description="What the customer has at the end, in one or two sentences.",
        render_kw={"rows": 2},
    )
    summary = TextAreaField("Summary", validators=[Length(max=1000)], render_kw={"rows": 3})
    description = TextAreaField(
        "Description",
        validators=[Length(max=20_000)],
        description="Markdown: **bold**, lists, links, tables. HTML is not allowed.",
        render_kw={"rows": 8},
    )
    prerequisites = TextAreaField(
        "Prerequisites (what the customer provides)", description=LINES, render_kw={"rows": 4}
    )
    in_scope = TextAreaField("In scope", description=LINES, render_kw={"rows": 4})
    out_of_scope = TextAreaField("Out of scope", description=LINES, render_kw={"rows": 4})
    deliverables = FieldList(FormField(DeliverableRow), max_entries=MAX_ITEMS + 10)
    constraints = TextAreaField(
        "Constraints and assumptions", description=LINES, render_kw={"rows": 3}
    )
    delivery_mode = SelectField(
        "Delivery mode", choices=choices(DeliveryMode), validators=[InputRequired()]
    )
    duration_days = IntegerField(
        "Duration (business days)",
        validators=[InputRequired(), NumberRange(min=1, max=MAX_DAYS)],
    )
    effort_hours = IntegerField(
        "Effort (hours)", validators=[InputRequired(), NumberRange(min=1, max=MAX_EFFORT_HOURS)]
    )
    required_skills = TextAreaField("Required skills", description=LINES, render_kw={"rows": 3})
    price = StringField("List price", validators=[DataRequired(), Length(max=20)])
    currency = SelectField(
        "Currency",
        choices=[SelectChoice(code) for code in sorted(list_currencies())],
        default="USD",
    )
    delivery_cost = StringField(
        "Estimated delivery cost", validators=[Optional(), Length(max=20)], default="0"
    )
    billing_policy = SelectField(
        "Billing policy", choices=choices(BillingPolicy), validators=[InputRequired()]
    )
    start_within_days = IntegerField(
        "Starts within (business days of the order)",
        validators=[InputRequired(), NumberRange(min=0, max=MAX_DAYS)],
        default=5,
    )
    deliver_within_days = IntegerField(
        "Delivered within (business days of the start)",
        validators=[InputRequired(), NumberRange(min=1, max=MAX_DAYS)],
        default=10,
    )
    csat_target = PlainDecimalField(
        "CSAT target (1 to 5)",
        whole_digits=1,
        places=1,
        validators=[InputRequired(), NumberRange(min=1, max=5)],
        default=Decimal("4.5"),
    )
    intake_questions = FieldList(FormField(QuestionRow), max_entries=MAX_QUESTIONS + 10)
    add_rows = SubmitField("Add more rows")
    submit = SubmitField("Save draft")

    @classmethod
    def initial(cls, content: ServletContent) -> dict[str, Any]:
        """Form data showing ``content``: list fields one item per line, rows numbered."""
        values = content.plain_values()
        return {
            **values,
            **{name: "\n".join(values[name]) for name in LIST_FIELDS},
            "deliverables": [{"position": n, **d} for n, d in enumerate(content.deliverables, 1)],
            "intake_questions": [
                {
                    "position": n,
                    "label": q.get("label", ""),
                    "type": q.get("type", "text"),
                    "required": bool(q.get("required")),
                    "choices": "; ".join(q.get("choices") or []),
                }
                for n, q in enumerate(content.intake_questions, 1)
            ],
        }

    def add_blank_rows(self, count: int = 2) -> None:
        for rows, limit in ((self.deliverables, MAX_ITEMS), (self.intake_questions, MAX_QUESTIONS)):
            for _ in range(count):
                if len(rows) < limit + 5:
                    rows.append_entry()

    def _money(self, field: StringField, currency: str) -> Money | None:
        try:
            return Money.parse(field.data or "0", currency)
        except ValueError as error:
            message = str(error)
            field.errors.append(
                message if "decimals" in message else "Enter an amount like 1250 or 1250.50."
            )
            return None

    def content(self) -> ServletContent | None:
        """The content the form describes, or ``None`` with errors on the fields."""
        currency = self.currency.data
        price = self._money(self.price, currency)
        cost = self._money(self.delivery_cost, currency)
        if price is None or cost is None:
            return None
        deliverables = [
            {"title": row.title.data.strip(), "description": (row.description.data or "").strip()}
            for row in _rows(self.deliverables, lambda row: (row.title.data or "").strip())
        ]
        questions = [
            {
                "label": row.label.data.strip(),
                "type": row.type.data,
                "required": bool(row.required.data),
                "choices": [c.strip() for c in (row.choices.data or "").split(";") if c.strip()],
            }
            for row in _rows(self.intake_questions, lambda row: (row.label.data or "").strip())
        ]
        return ServletContent(
            title=self.title.data.strip(),
            kind=ServletKind(self.kind.data),
            stage=LifecycleStage(self.stage.data),
            outcome=self.outcome.data.strip(),
            summary=(self.summary.data or "").strip(),
            description=self.description.data or "",
            prerequisites=clean_lines(self.prerequisites.data or ""),
            in_scope=clean_lines(self.in_scope.data or ""),
            out_of_scope=clean_lines(self.out_of_scope.data or ""),
            deliverables=deliverables,
            constraints=clean_lines(self.constraints.data or ""),
            delivery_mode=DeliveryMode(self.delivery_mode.data),
            duration_days=self.duration_days.data,
            effort_hours=self.effort_hours.data,
            required_skills=clean_lines(self.required_skills.data or ""),
            price=price,
            delivery_cost=cost,
            billing_policy=BillingPolicy(self.billing_policy.data),
            start_within_days=self.start_within_days.data,
            deliver_within_days=self.deliver_within_days.data,
            csat_target=self.csat_target.data,
            intake_questions=questions,
        )


class ImportForm(FlaskForm):
    file = FileField("CSV or JSON file", validators=[FileRequired("Choose a file to import.")])
    publish = BooleanField("Publish the imported servlets right away")
    submit = SubmitField("Import")


class CatalogForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    description = TextAreaField("Description", validators=[Length(max=500)], render_kw={"rows": 2})
    submit = SubmitField("Save")


class AddItemForm(FlaskForm):
    servlet_id = SelectField("Servlet", coerce=int, validators=[InputRequired()])
    submit = SubmitField("Add to catalog")


class PriceForm(FlaskForm):
    price = StringField(
        "Catalog price",
        validators=[Optional(), Length(max=20)],
        description="Leave empty to use the list price.",
    )
    submit = SubmitField("Set price")


class AssignForm(FlaskForm):
    customers = SelectMultipleField("Customers who see this catalog", coerce=int)
    submit = SubmitField("Save assignments")


class RecommendForm(FlaskForm):
    customer_id = SelectField("Customer", coerce=int, validators=[InputRequired()])
    servlet_id = SelectField("Servlet", coerce=int, validators=[InputRequired()])
    reason = TextAreaField(
        "Why this helps them",
        validators=[DataRequired(), Length(max=2000)],
        description="The customer reads this, e.g. the health-check finding it addresses.",
        render_kw={"rows": 4},
    )
    expires_on = DayField("Expires on (optional)", validators=[Optional()])
    submit = SubmitField("Recommend")


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        "Why not?",
        validators=[DataRequired("Tell your CSM why."), Length(max=1000)],
        render_kw={"rows": 2},
    )
    submit = SubmitField("Decline")


class BrowseForm(FlaskForm):
    """The catalog's filter bar: read from the query string, no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Length(max=200)])
    kind = SelectMultipleField("Kind", choices=choices(ServletKind))
    stage = SelectMultipleField("Stage", choices=choices(LifecycleStage))
    mode = SelectMultipleField("Delivery", choices=choices(DeliveryMode))
    min_price = StringField("Min price", validators=[Length(max=20)])
    max_price = StringField("Max price", validators=[Length(max=20)])
    max_days = IntegerField(
        "Max business days", validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)]
    )
    sort = SelectField(
        "Sort",
        choices=[SelectChoice(value, label) for value, label in SORTS.items()],
        default="catalog",
    )
