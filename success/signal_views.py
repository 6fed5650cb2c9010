"""Usage-signal pages (the vendor's admins and CSMs): the signal types, the CSV upload with
its result or its errors, the import history, and the signals section of the account page.
Every change goes through ``success.signal_csv`` or ``success.signal_types``."""

from __future__ import annotations

from datetime import date

from flask import Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import joinedload

from accounts.models import Organization
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import Actor, Role, current_actor, get_or_404, requires, scoped
from success import accounts, bp, policies, signal_csv, signal_types, signals
from success.sections import Section, account_section
from success.signal_forms import ConfirmForm, SignalTypeForm, SignalUploadForm
from success.signal_models import SignalImport, SignalType

READERS = policies.ACCOUNT_READERS
PER_PAGE = 25
ERRORS_SHOWN = 200

nav_item("Usage signals", "success.signals", *READERS, group="Success", icon="activity")


# --- upload --------------------------------------------------------------------------------


def _upload_page(form: SignalUploadForm, status: int = 200, refusal=None) -> ResponseReturnValue:
    recent = db.session.scalars(
        scoped(SignalImport)
        .options(joinedload(SignalImport.imported_by))
        .order_by(SignalImport.id.desc())
        .limit(5)
    ).all()
    rows = refusal.rows if refusal is not None else []
    return render_template(
        "success/signals.html",
        form=form,
        refusal=refusal,
        errors=rows[:ERRORS_SHOWN],
        more_errors=max(len(rows) - ERRORS_SHOWN, 0),
        recent=recent,
        max_rows=signal_csv.MAX_ROWS,
        max_mb=signal_csv.MAX_FILE_BYTES // (1024 * 1024),
    ), status


@bp.get("/signals", endpoint="signals")
@requires(*READERS)
def upload_page() -> ResponseReturnValue:
    return _upload_page(SignalUploadForm(formdata=None))


@bp.post("/signals", endpoint="import_signals")
@requires(*READERS)
def import_signals() -> ResponseReturnValue:
    form = SignalUploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, 400)
    upload = form.file.data
    try:
        batch = signal_csv.import_signal_file(
            current_actor(), upload.read(), upload.filename or "", utcnow().date()
        )
    except signal_csv.SignalFileRefused as refusal:
        db.session.rollback()
        return _upload_page(form, 422, refusal)
    flash(
        f"{batch.rows:,} signals imported: {batch.new_rows:,} new, {batch.updated_rows:,} updated.",
        "success",
    )
    return redirect(url_for("success.signal_import", signal_import_id=batch.id))


@bp.get("/signals/template.csv", endpoint="signal_template")
@requires(*READERS)
def signal_template() -> ResponseReturnValue:
    return Response(
        signal_csv.template_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=signals-template.csv"},
    )


# --- history -------------------------------------------------------------------------------


@bp.get("/signals/imports", endpoint="signal_imports")
@requires(*READERS)
def signal_imports() -> ResponseReturnValue:
    stmt = (
        scoped(SignalImport)
        .options(joinedload(SignalImport.imported_by))
        .order_by(SignalImport.id.desc())
    )
    page = paginate(stmt, PER_PAGE, count_select=scoped(SignalImport))
    return render_template("success/signals_imports.html", page=page)


@bp.get("/signals/imports/<int:signal_import_id>", endpoint="signal_import")
@requires(*READERS)
def signal_import(signal_import_id: int) -> ResponseReturnValue:
    batch = get_or_404(SignalImport, signal_import_id, joinedload(SignalImport.imported_by))
    return render_template("success/signals_import.html", batch=batch)


# --- types ---------------------------------------------------------------------------------


def _types_page(form: SignalTypeForm | None, status: int = 200) -> ResponseReturnValue:
    actor = current_actor()
    return render_template(
        "success/signals_types.html",
        types=signal_types.listed_types(),
        form=form if actor.role is Role.ADMIN else None,
    ), status


@bp.get("/signals/types", endpoint="signal_types")
@requires(*READERS)
def types_page() -> ResponseReturnValue:
    return _types_page(SignalTypeForm(formdata=None))


@bp.post("/signals/types", endpoint="add_signal_type")
@requires(*READERS)
def add_type() -> ResponseReturnValue:
    if current_actor().role is not Role.ADMIN:
        raise NotAllowed("Only an admin changes the vendor's signal types.")
    form = SignalTypeForm()
    if not form.validate_on_submit():
        return _types_page(form, 400)
    try:
        made = signal_types.add_signal_type(current_actor(), form.key.data, form.name.data)
    except ServiceError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _types_page(form, 400)
    flash(f"Signal type “{made.name}” added: upload it with the key {made.key}.", "success")
    return redirect(url_for("success.signal_types"))


def _deletable(signal_type_id: int) -> SignalType:
    signal_type = get_or_404(SignalType, signal_type_id)
    if current_actor().role is not Role.ADMIN:
        raise NotAllowed("Only an admin changes the vendor's signal types.")
    return signal_type


@bp.get("/signals/types/<int:signal_type_id>/delete", endpoint="delete_signal_type")
@requires(*READERS)
def confirm_delete(signal_type_id: int) -> ResponseReturnValue:
    signal_type = _deletable(signal_type_id)
    return render_template(
        "success/signals_type_delete.html",
        signal_type=signal_type,
        in_use=signal_type.built_in or signal_types.signal_type_in_use(signal_type),
        form=ConfirmForm(formdata=None),
    )


@bp.post("/signals/types/<int:signal_type_id>/delete", endpoint="delete_signal_type_post")
@requires(*READERS)
def delete_type(signal_type_id: int) -> ResponseReturnValue:
    signal_type = _deletable(signal_type_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("success.delete_signal_type", signal_type_id=signal_type_id))
    name = signal_type.name
    signal_types.delete_signal_type(current_actor(), signal_type)
    flash(f"Signal type “{name}” deleted.", "success")
    return redirect(url_for("success.signal_types"))


# --- the account page's section ------------------------------------------------------------


@account_section(20)
def signals_section(customer: Organization, actor: Actor, today: date) -> Section:
    """Each signal type with figures: the latest, its change over 30 days, a 90-day trend."""
    account = accounts.account_of(customer)
    bought = account.licences_bought if account is not None and account.licences_bought else None
    return Section(
        "success/_account_signals.html",
        {
            "signals": signals.account_signals(customer.id, bought, today),
            "trend_days": signals.TREND_DAYS,
            "change_days": signals.CHANGE_DAYS,
        },
        "main",
    )
