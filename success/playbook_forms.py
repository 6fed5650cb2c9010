"""Forms of the playbook pages and of a suggestion's decline. Choices that depend on the
vendor (signal types, servlets) are filled by the view; every value is checked again by
``success.playbook_values``, which says what is wrong in words (a choice of another vendor, a
placeholder the condition does not fill)."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from catalog.models import LifecycleStage, ServletKind
from core.form_fields import PlainDecimalField
from success import playbook_values
from success.health_models import HealthComponent
from success.models import ContactRole
from success.playbook_models import Playbook, PlaybookCondition
from success.suggestions import MAX_DECLINE_REASON


def _choices(enum: type, none: str = "—") -> list[SelectChoice]:
    return [SelectChoice("", none)] + [SelectChoice(m.value, m.label) for m in enum]


def _id(value: object) -> int:
    """A select's id: 0 for "none chosen" and for what is no number (the service refuses)."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


class PlaybookForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=playbook_values.MAX_NAME)])
    condition = SelectField(
        "Condition",
        choices=[SelectChoice(m.value, m.label) for m in PlaybookCondition],
        validate_choice=False,
    )
    signal_type_id = SelectField(
        "Signal type",
        coerce=_id,
        validate_choice=False,
        description="For “signal drop” and “licence cap”: the figure watched.",
    )
    component = SelectField(
        "Health component",
        choices=_choices(HealthComponent),
        validate_choice=False,
        description="For “component below”.",
    )
    contact_role = SelectField(
        "Contact role",
        choices=_choices(ContactRole),
        validate_choice=False,
        description="For “contact changed”.",
    )
    servlet_kind = SelectField(
        "Servlet kind",
        choices=_choices(ServletKind),
        validate_choice=False,
        description="For “no servlet kind”: the kind of engagement that should have happened.",
    )
    threshold = PlainDecimalField(
        "Threshold",
        whole_digits=3,
        places=1,
        validators=[Optional()],
        description="Drop or licence share in %, component score 0-100, or CSAT 1-5.",
    )
    window_days = IntegerField(
        "Window (days)", validators=[Optional()], description="From 1 to 730 days."
    )
    stage = SelectField(
        "Only at stage", choices=_choices(LifecycleStage, "Any stage"), validate_choice=False
    )
    servlet_id = SelectField("Suggested servlet", coerce=_id, validate_choice=False)
    reason_template = TextAreaField(
        "Reason",
        validators=[InputRequired(), Length(max=playbook_values.MAX_TEMPLATE)],
        description="What the CSM and then the customer read; placeholders are filled "
        "from the data that fired the playbook.",
    )
    cooling_off_days = IntegerField(
        "Cooling-off (days)",
        validators=[Optional()],
        description="After a decline, the playbook stays quiet for that account this long "
        "(0 to 365).",
    )
    enabled = BooleanField("Enabled")

    def fill_choices(self, vendor_id: int, signal_types: list[tuple[int, str]]) -> None:
        self.signal_type_id.choices = [SelectChoice(0, "—")] + [
            SelectChoice(type_id, name) for type_id, name in signal_types
        ]
        self.servlet_id.choices = [SelectChoice(0, "—")] + [
            SelectChoice(servlet_id, f"{title} ({kind.label})")
            for servlet_id, title, kind in playbook_values.offered_servlets(vendor_id)
        ]

    def show(self, playbook: Playbook) -> None:
        """Fill from a stored playbook (the edit form)."""
        for name in ("component", "contact_role", "servlet_kind", "stage"):
            value = getattr(playbook, name)
            getattr(self, name).data = value.value if value is not None else ""
        self.condition.data = playbook.condition.value
        self.name.data = playbook.name
        self.signal_type_id.data = playbook.signal_type_id or 0
        self.servlet_id.data = playbook.servlet_id
        self.threshold.data = Decimal(str(playbook.threshold)) if playbook.threshold else None
        self.window_days.data = playbook.window_days
        self.reason_template.data = playbook.reason_template
        self.cooling_off_days.data = playbook.cooling_off_days
        self.enabled.data = playbook.enabled

    def values(self) -> playbook_values.PlaybookValues:
        return playbook_values.PlaybookValues(
            name=self.name.data or "",
            condition=self.condition.data or "",
            servlet_id=self.servlet_id.data or None,
            reason_template=self.reason_template.data or "",
            signal_type_id=self.signal_type_id.data or None,
            component=self.component.data or "",
            contact_role=self.contact_role.data or "",
            servlet_kind=self.servlet_kind.data or "",
            threshold=float(self.threshold.data) if self.threshold.data is not None else None,
            window_days=self.window_days.data,
            stage=self.stage.data or "",
            cooling_off_days=self.cooling_off_days.data,
            enabled=bool(self.enabled.data),
        )


class DeclineForm(FlaskForm):
    reason = StringField(
        "Why not now?",
        validators=[Optional(), Length(max=MAX_DECLINE_REASON)],
        description="Optional; shown beside the suggestion.",
    )
