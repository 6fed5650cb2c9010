"""The API token pages under ``/settings/api-tokens``: every member's personal tokens and, for
vendor admins, the vendor's service tokens; make one (its secret shown once), revoke one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import joinedload

from accounts.models import Membership
from api import bp, tokens
from api.token_forms import AREA_LABELS, RevokeForm, ServiceTokenForm, TokenForm
from api.token_models import SCOPE_AREAS, ApiToken, TokenKind
from core.db import utcnow
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.permissions import Actor, Role, current_actor, get_or_404, requires, scoped

nav_item("API tokens", "api.tokens", *Role, group="Admin", icon="key")


@bp.get("/settings/api-tokens", endpoint="tokens")
@requires()
def tokens_page() -> ResponseReturnValue:
    actor = current_actor()
    listed = db.session.scalars(
        scoped(ApiToken)
        .options(joinedload(ApiToken.membership).joinedload(Membership.user))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    ).all()
    return render_template(
        "api/tokens.html",
        personal=[t for t in listed if t.kind == TokenKind.PERSONAL],
        service=[t for t in listed if t.kind == TokenKind.SERVICE],
        is_admin=actor.role == Role.ADMIN,
        now=utcnow(),
    )


@bp.route("/settings/api-tokens/new", methods=["GET", "POST"], endpoint="new_token")
@requires()
def new_token_page() -> ResponseReturnValue:
    return _make(TokenForm(), tokens.make_personal_token, service=False)


@bp.route("/settings/api-tokens/new-service", methods=["GET", "POST"], endpoint="new_service_token")
@requires(Role.ADMIN)
def new_service_token_page() -> ResponseReturnValue:
    return _make(ServiceTokenForm(), tokens.make_service_token, service=True)


def _make(
    form: TokenForm,
    make: Callable[[Actor, tokens.TokenRequest], tokens.MadeToken],
    *,
    service: bool,
) -> ResponseReturnValue:
    if form.validate_on_submit():
        wanted = tokens.TokenRequest(
            name=form.name.data or "",
            scopes=form.scopes.data or [],
            lifetime=timedelta(days=form.expires_in_days.data or 0),
            role=Role(form.role.data) if isinstance(form, ServiceTokenForm) else None,
        )
        try:
            made = make(current_actor(), wanted)
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            # The secret is in this answer only: never stored, never in a redirect or a flash.
            page = render_template("api/token_created.html", token=made.token, secret=made.secret)
            return page, 200, {"Cache-Control": "no-store"}
    return render_template(
        "api/token_form.html", form=form, service=service, areas=SCOPE_AREAS, labels=AREA_LABELS
    )


@bp.route(
    "/settings/api-tokens/<int:api_token_id>/revoke",
    methods=["GET", "POST"],
    endpoint="revoke_token",
)
@requires()
def revoke_token_page(api_token_id: int) -> ResponseReturnValue:
    token = get_or_404(ApiToken, api_token_id, joinedload(ApiToken.membership))
    form = RevokeForm()
    if form.validate_on_submit():
        tokens.revoke(current_actor(), token)
        flash(f"Token “{token.name}” is revoked: requests with it now get 401.", "success")
        return redirect(url_for("api.tokens"))
    return render_template("api/token_revoke.html", token=token, form=form)
