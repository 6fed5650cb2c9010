"""Customer success: account records (owning CSM, segment, touch model, stage, renewal, ARR,
licences, key contacts, notes) and each account's timeline across every area."""

from flask import Blueprint, Flask

from core.wiring import wire

bp = Blueprint("success", __name__)

# The modules that declare something for the app; see core.wiring.
MODULES = (
    "signal_models",
    "health_models",
    "playbook_models",
    "plan_models",
    "survey_models",
    "report_models",
    "seed",
    "views",
    "health",
    "health_views",
    "suggestions",
    "playbook_views",
    "signal_views",
    "plan_views",
    "report_views",
    "report_documents",
    "home",
    "health_home",
    "playbook_home",
    "surveys",
    "follow_ups",
    "survey_views",
    "renewal_views",
    "survey_home",
)


def init_app(app: Flask) -> None:
    wire(app, bp, __name__, MODULES)
