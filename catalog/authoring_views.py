"""Vendor admin pages for servlets: list, create, edit, preview, publish, history, import."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from catalog import bp, queries, servlets, transfer
from catalog.content import ServletContent, diff_contents
from catalog.forms import ImportForm, ServletForm
from catalog.models import Servlet, ServletVersion
from core import params
from core.bounds import MAX_INT
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import paginate
from core.permissions import Role, current_actor, get_or_404, requires

nav_item("Servlets", "catalog.servlets", Role.ADMIN, group="Sell", icon="box-seam")

PER_PAGE = 25


def _servlet(servlet_id: int) -> Servlet:
    return get_or_404(Servlet, servlet_id, *queries.load_servlet_options())


@bp.get("/admin/servlets", endpoint="servlets")
@requires(Role.ADMIN)
def servlet_list() -> ResponseReturnValue:
    status = params.choice("status", queries.SERVLET_STATUSES)
    q = params.text("q", 200)
    page = paginate(queries.authored_servlets(status, q), PER_PAGE)
    return render_template(
        "catalog/admin/servlets.html",
        page=page,
        status=status,
        q=q,
        statuses=queries.SERVLET_STATUSES,
    )


def _form_page(form: ServletForm, servlet: Servlet | None) -> str:
    return render_template("catalog/admin/servlet_form.html", form=form, servlet=servlet)


def _submitted(form: ServletForm) -> ServletContent | None:
    """The content of a valid submission; ``None`` re-renders (errors, or more rows asked)."""
    if form.add_rows.data:
        form.add_blank_rows(3)
        return None
    if not form.validate_on_submit():
        if request.method == "POST":
            form.form_errors.append("Some fields need your attention: see below.")
        return None
    return form.content()


@bp.route("/admin/servlets/new", methods=["GET", "POST"])
@requires(Role.ADMIN)
def new_servlet() -> ResponseReturnValue:
    form = ServletForm()
    if request.method == "GET":
        form.currency.data = current_user.membership.vendor.currency
        form.add_blank_rows(3)
    content = _submitted(form)
    if content is not None:
        try:
            servlet = servlets.create_servlet(current_actor(), content)
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash("Draft saved. Preview it, then publish when it is ready.", "success")
            return redirect(url_for("catalog.servlet", servlet_id=servlet.id))
    return _form_page(form, None)


@bp.route("/admin/servlets/<int:servlet_id>/edit", methods=["GET", "POST"])
@requires(Role.ADMIN)
def edit_servlet(servlet_id: int) -> ResponseReturnValue:
    servlet = _servlet(servlet_id)
    if request.method == "GET":
        form = ServletForm(data=ServletForm.initial(ServletContent.of(servlet.latest)))
        form.add_blank_rows(2)
    else:
        form = ServletForm()
    content = _submitted(form)
    if content is not None:
        try:
            draft = servlets.save_draft(current_actor(), servlet, content)
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            flash(f"Draft version {draft.number} saved.", "success")
            return redirect(url_for("catalog.servlet", servlet_id=servlet_id))
    return _form_page(form, servlet)


@bp.get("/admin/servlets/<int:servlet_id>")
@requires(Role.ADMIN)
def servlet(servlet_id: int) -> ResponseReturnValue:
    servlet = get_or_404(
        Servlet,
        servlet_id,
        *queries.load_servlet_options(),
        selectinload(Servlet.versions).joinedload(ServletVersion.published_by),
    )
    return render_template("catalog/admin/servlet.html", servlet=servlet)


@bp.get("/admin/servlets/<int:servlet_id>/preview")
@requires(Role.ADMIN)
def preview_servlet(servlet_id: int) -> ResponseReturnValue:
    servlet = _servlet(servlet_id)
    number = params.integer("version", 1, MAX_INT)
    version = servlet.latest
    if number is not None:
        version = (
            db.session.scalar(
                select(ServletVersion).where(
                    ServletVersion.servlet_id == servlet.id, ServletVersion.number == number
                )
            )
            or servlet.latest
        )
    return render_template(
        "catalog/admin/preview.html", servlet=servlet, version=version, price=version.price
    )


@bp.get("/admin/servlets/<int:servlet_id>/history")
@requires(Role.ADMIN)
def servlet_history(servlet_id: int) -> ResponseReturnValue:
    servlet = get_or_404(Servlet, servlet_id, selectinload(Servlet.versions))
    versions = servlet.versions
    by_number = {v.number: v for v in versions}
    newest = versions[-1].number
    to = by_number.get(params.integer("to", 1, MAX_INT, newest)) or versions[-1]
    default_from = max((n for n in by_number if n < to.number), default=to.number)
    wanted_from = params.integer("from", 1, MAX_INT, default_from)
    since = by_number.get(wanted_from) or by_number[default_from]
    changes = diff_contents(ServletContent.of(since), ServletContent.of(to))
    return render_template(
        "catalog/admin/history.html",
        servlet=servlet,
        versions=versions,
        since=since,
        to=to,
        changes=changes,
    )


def _act(servlet_id: int, action: object, message: str) -> ResponseReturnValue:
    servlet = _servlet(servlet_id)
    try:
        action(current_actor(), servlet)  # type: ignore[operator]
    except ServiceError as error:
        flash(error.message, "danger")
    else:
        flash(message, "success")
    return redirect(url_for("catalog.servlet", servlet_id=servlet_id))


@bp.post("/admin/servlets/<int:servlet_id>/publish")
@requires(Role.ADMIN)
def publish_servlet(servlet_id: int) -> ResponseReturnValue:
    return _act(servlet_id, servlets.publish_servlet, "Published: customers see this version.")


@bp.post("/admin/servlets/<int:servlet_id>/discard")
@requires(Role.ADMIN)
def discard_draft(servlet_id: int) -> ResponseReturnValue:
    return _act(servlet_id, servlets.discard_draft, "Draft discarded.")


@bp.post("/admin/servlets/<int:servlet_id>/retire")
@requires(Role.ADMIN)
def retire_servlet(servlet_id: int) -> ResponseReturnValue:
    return _act(servlet_id, servlets.retire_servlet, "Retired: hidden from every catalog.")


@bp.post("/admin/servlets/<int:servlet_id>/reinstate")
@requires(Role.ADMIN)
def reinstate_servlet(servlet_id: int) -> ResponseReturnValue:
    return _act(servlet_id, servlets.reinstate_servlet, "Reinstated.")


@bp.post("/admin/servlets/<int:servlet_id>/duplicate")
@requires(Role.ADMIN)
def duplicate_servlet(servlet_id: int) -> ResponseReturnValue:
    servlet = _servlet(servlet_id)
    copy = servlets.duplicate_servlet(current_actor(), servlet)
    flash("Copy created as a draft.", "success")
    return redirect(url_for("catalog.edit_servlet", servlet_id=copy.id))


@bp.get("/admin/servlets/export.<any(csv, json):fmt>")
@requires(Role.ADMIN)
def export_servlets(fmt: str) -> ResponseReturnValue:
    body = transfer.export_servlets(fmt)
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename=servlets.{fmt}"},
    )


@bp.route("/admin/servlets/import", methods=["GET", "POST"])
@requires(Role.ADMIN)
def import_servlets() -> ResponseReturnValue:
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        report = transfer.import_servlets(
            current_actor(), upload.read(), upload.filename or "", publish=form.publish.data
        )
        if report.ok:
            flash(f"Imported {report.imported} servlets.", "success")
            return redirect(url_for("catalog.servlets"))
    return render_template(
        "catalog/admin/import.html", form=form, report=report, columns=transfer.COLUMNS
    )
