"""Forms of accounts. Lengths match the columns so long input is refused with a message."""

from __future__ import annotations

from babel.numbers import list_currencies
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Regexp,
)

from core.form_fields import PlainDecimalField
from core.permissions import OrgKind, Role

PASSWORD_RULES = [
    DataRequired(),
    Length(min=10, max=128, message="Use between 10 and 128 characters."),
]


def email_field(label: str = "Email") -> EmailField:
    return EmailField(
        label,
        validators=[
            DataRequired(),
            Length(max=254),
            Email(message="Enter an email address like name@example.com."),
        ],
    )


def sign_in_email_field() -> StringField:
    """Sign-in takes whatever address the account has: no format rule to leak or trip on."""
    return StringField("Email", validators=[DataRequired(), Length(max=254)])


class SignInForm(FlaskForm):
    email = sign_in_email_field()
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    submit = SubmitField("Sign in")


class ForgotPasswordForm(FlaskForm):
    email = sign_in_email_field()
    submit = SubmitField("Email me a reset link")


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=PASSWORD_RULES)
    confirm = PasswordField(
        "Repeat the password", validators=[EqualTo("password", message="The passwords differ.")]
    )
    submit = SubmitField("Set password")


class AcceptInvitationForm(NewPasswordForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    submit = SubmitField("Join")


class InviteForm(FlaskForm):
    email = email_field()
    name = StringField("Name", validators=[Length(max=120)])
    organization_id = SelectField("Organisation", coerce=int, validators=[InputRequired()])
    role = SelectField(
        "Role",
        choices=[SelectChoice(role.value, role.label) for role in Role],
        validators=[InputRequired()],
    )
    submit = SubmitField("Send invitation")


class RoleForm(FlaskForm):
    role = SelectField("Role", validators=[InputRequired()])
    submit = SubmitField("Change role")


class OrganizationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice(OrgKind.CUSTOMER.value, "Customer"),
            SelectChoice(OrgKind.PARTNER.value, "Partner"),
        ],
    )
    submit = SubmitField("Save")


class OrganizationEditForm(OrganizationForm):
    approval_threshold = StringField(
        "Approval threshold",
        validators=[Length(max=20)],
        description="Orders above this amount wait for one of the customer's approvers. "
        "Leave empty when no order needs approval.",
    )


class VendorSettingsForm(FlaskForm):
    name = StringField("Vendor name", validators=[DataRequired(), Length(max=120)])
    currency = SelectField(
        "Currency",
        choices=[SelectChoice(code) for code in sorted(list_currencies())],
        validators=[InputRequired()],
    )
    payment_terms_days = IntegerField(
        "Payment terms (days)",
        validators=[InputRequired(), NumberRange(min=0, max=365, message="Between 0 and 365.")],
    )
    tax_rate = PlainDecimalField(
        "Tax rate (%)",
        whole_digits=3,
        places=2,
        validators=[InputRequired(), NumberRange(min=0, max=100, message="Between 0 and 100.")],
    )
    invoice_prefix = StringField(
        "Invoice prefix",
        validators=[
            DataRequired(),
            Length(max=12),
            Regexp(r"^[A-Z0-9]+$", message="Capital letters and digits only, e.g. ACME."),
        ],
    )
    terms_text = TextAreaField("Terms of service", validators=[Length(max=50_000)])
    terms_version = StringField("Terms version", validators=[DataRequired(), Length(max=20)])
    submit = SubmitField("Save settings")


class ActiveToggleForm(FlaskForm):
    """A bare POST with CSRF for activate/deactivate buttons."""

    active = BooleanField()
    submit = SubmitField()
