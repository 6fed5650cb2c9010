"""Billing: charges by billing policy, invoices, payments and refunds, credit notes,
reminders, financial reports and partner payouts."""

from flask import Blueprint, Flask

from core.wiring import wire

bp = Blueprint("billing", __name__)

# The modules that declare something for the app; see core.wiring.
MODULES = (
    "seed",
    "charges",
    "documents",
    "document_views",
    "templating",
    "invoice_views",
    "profile_views",
    "payout_views",
    "payout_documents",
    "payout_home",
    "credit_notes",
    "credit_note_views",
    "jobs",
    "refunds",
    "invoice_checkout",
    "payment_views",
    "report_views",
    "home",
)


def init_app(app: Flask) -> None:
    wire(app, bp, __name__, MODULES)
