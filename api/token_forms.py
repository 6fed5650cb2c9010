"""Forms of the API token pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from api.token_models import SCOPES, SERVICE_ROLES
from api.tokens import LIFETIMES_DAYS, MAX_NAME

AREA_LABELS = {
    "catalog": "Catalog: servlets, catalogs, recommendations",
    "orders": "Orders",
    "delivery": "Delivery: engagements, tasks, time",
    "billing": "Billing: invoices, payments",
    "success": "Customer success: accounts, usage signals",
    "webhooks": "Webhook endpoints",
}


class TokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Name the token."), Length(max=MAX_NAME)],
        description="What uses it, e.g. “CRM sync”. Only you and your admins see it.",
    )
    scopes = SelectMultipleField(
        "Scopes",
        choices=[SelectChoice(scope, scope) for scope in SCOPES],
        validators=[DataRequired("Choose at least one scope.")],
    )
    expires_in_days = SelectField(
        "Expires in",
        choices=[SelectChoice(days, f"{days} days") for days in LIFETIMES_DAYS],
        coerce=int,
        default=90,
    )
    submit = SubmitField("Create token")


class ServiceTokenForm(TokenForm):
    role = SelectField(
        "Acts as",
        choices=[SelectChoice(role.value, role.label) for role in SERVICE_ROLES],
        default="admin",
        description="The vendor role the service has: it reaches what that role reaches.",
    )
    submit = SubmitField("Create service token")


class RevokeForm(FlaskForm):
    submit = SubmitField("Revoke token")
