"""The credit note form: in full or per line, and why. Line amounts are typed as text and
parsed by ``Money.parse`` in the invoice's currency (never a float); one field per line of
the invoice, named ``line_<id>``, so the form is built for the invoice it credits."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from billing.credit_notes import MAX_REASON
from billing.models import Invoice
from core.money import Money

FULL, PARTIAL = "full", "partial"


class CreditNoteForm(FlaskForm):
    scope = RadioField(
        "What to credit",
        choices=[
            SelectChoice(FULL, "Everything left to credit"),
            SelectChoice(PARTIAL, "Part of some lines"),
        ],
        default=FULL,
        validators=[InputRequired(message="Choose full or partial.")],
    )
    reason = TextAreaField(
        "Reason",
        validators=[
            InputRequired(message="Say why the invoice is credited."),
            Length(max=MAX_REASON),
        ],
        description="Printed on the credit note the customer receives.",
    )

    def line_fields(self) -> list[tuple[int, StringField]]:
        return [
            (int(name.removeprefix("line_")), field)
            for name, field in self._fields.items()
            if name.startswith("line_")
        ]

    def nets(self, currency: str) -> dict[int, Money] | None:
        """The net amount per line id for a partial credit note (empty boxes left out), or
        None when the field errors say what to fix."""
        nets, ok = {}, True
        for line_id, field in self.line_fields():
            text = (field.data or "").strip()
            if not text:
                continue
            try:
                nets[line_id] = Money.parse(text, currency)
            except ValueError as error:
                field.errors = [*field.errors, str(error)]
                ok = False
        return nets if ok else None


def form_for(invoice: Invoice, **kwargs: object) -> CreditNoteForm:
    """A ``CreditNoteForm`` with one amount box per line of ``invoice``."""

    class InvoiceCreditNoteForm(CreditNoteForm):
        pass

    for line in invoice.lines:
        setattr(
            InvoiceCreditNoteForm,
            f"line_{line.id}",
            StringField(
                f"Line {line.position}: {line.description}",
                validators=[Length(max=30)],
            ),
        )
    return InvoiceCreditNoteForm(**kwargs)
