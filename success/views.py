"""Account pages (the vendor's admins and CSMs): the list with its filters and CSV, and one
account's record, key contacts and timeline, with the forms of those who may change them.
Every change goes through ``success.accounts``."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from wtforms.fields.choices import SelectChoice

from accounts.models import Organization
from billing import policies as billing_policies
from catalog.models import LifecycleStage
from core import params
from core.csv_export import csv_download
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.pagination import page_number, paginate
from core.permissions import Role, current_actor, requires
from success import accounts, bp, policies, queries
from success.forms import AccountRecordForm, ContactForm, CsmAccessForm, NoteForm, OwnerForm
from success.sections import sections_for
from success.timeline import timeline

READERS = policies.ACCOUNT_READERS
PER_PAGE = 25
CSV_LIMIT = 10_000
RENEWING = str(queries.RENEWAL_WINDOW_DAYS)  # ?renewing=90: renewing within that many days

nav_item("Accounts", "success.accounts", *READERS, group="Success", icon="building")


# --- the list ----------------------------------------------------------------------------


def _filters() -> queries.AccountFilters:
    """Filters from the query string; a value that does not parse is ignored."""
    return queries.AccountFilters(
        who=params.choice("who", (queries.MINE, queries.ALL), queries.default_who(current_actor())),
        segment=params.text("segment", accounts.MAX_SEGMENT),
        stage=params.member("stage", LifecycleStage),
        q=params.text("q", 120),
        renewing=params.choice("renewing", (RENEWING,)) == RENEWING,
    )


def _filter_args(filters: queries.AccountFilters) -> dict[str, str]:
    return params.query_args(
        {
            "who": filters.who,
            "segment": filters.segment,
            "stage": filters.stage,
            "q": filters.q,
            "renewing": RENEWING if filters.renewing else None,
        }
    )


@bp.get("/accounts", endpoint="accounts")
@requires(*READERS)
def account_list() -> ResponseReturnValue:
    filters = _filters()
    actor = current_actor()
    page = paginate(queries.accounts(actor, filters, utcnow().date()), PER_PAGE)
    access_form = None
    if policies.assigns_owner(actor):
        access_form = CsmAccessForm(formdata=None, data={"own_only": policies.own_only_setting()})
    return render_template(
        "success/accounts.html",
        access_form=access_form,
        page=page,
        rows=queries.rows_of(page.items),
        filters=filters,
        filter_args=_filter_args(filters),
        segments=queries.segments(),
        stages=list(LifecycleStage),
    )


@bp.post("/accounts/access", endpoint="csm_access")
@requires(Role.ADMIN)
def csm_access() -> ResponseReturnValue:
    form = CsmAccessForm()
    own_only = accounts.set_csm_access(
        current_actor(), bool(form.own_only.data)
    ).csms_see_own_accounts_only
    flash(
        "Each CSM now sees only the accounts they own."
        if own_only
        else "Every CSM now sees every account.",
        "success",
    )
    return redirect(url_for("success.accounts", who="all"))


@bp.get("/accounts/export.csv", endpoint="export_accounts")
@requires(*READERS)
def export_accounts() -> ResponseReturnValue:
    """Exactly the accounts the list shows with the same filters."""
    stmt = queries.accounts(current_actor(), _filters(), utcnow().date()).limit(CSV_LIMIT)
    rows = queries.rows_of(db.session.scalars(stmt).all())
    return csv_download("accounts.csv", queries.CSV_HEADER, queries.csv_rows(rows))


# --- one account -------------------------------------------------------------------------


def _timeline_links() -> set[str]:
    """The object pages the signed-in person may open from a timeline entry."""
    links = {"ordering.order_page", "delivery.engagement"}
    if billing_policies.keeps_books(current_actor()):
        links.add("billing.invoice")
    return links


def _account_page(customer: Organization, status: int = 200, **forms: Any) -> ResponseReturnValue:
    actor = current_actor()
    account = accounts.account_of(customer)
    editable = policies.edits_account(actor, customer)
    owners = accounts.csm_choices(customer.tenant_id) if policies.assigns_owner(actor) else []
    if editable:
        if "record_form" not in forms:
            record = forms["record_form"] = AccountRecordForm(formdata=None, obj=account)
            record.arr.data = str(account.arr.to_decimal()) if account is not None else ""
        forms.setdefault("contact_form", ContactForm(formdata=None))
        forms.setdefault("note_form", NoteForm(formdata=None))
    if owners:
        if "owner_form" not in forms:
            forms["owner_form"] = OwnerForm(formdata=None, data={"csm_id": customer.csm_id or 0})
        forms["owner_form"].csm_id.choices = [SelectChoice(0, "Nobody")] + [
            SelectChoice(m.id, m.user.display_name) for m in owners
        ]
    return render_template(
        "success/account.html",
        customer=customer,
        account=account,
        owner=queries.owner_names([customer.csm_id]).get(customer.csm_id, ""),
        contacts=accounts.current_contacts(account),
        timeline=timeline(customer, account, page_number(), utcnow().date()),
        sections=sections_for(customer, actor, utcnow().date()),
        links=_timeline_links(),
        editable=editable,
        segments=queries.segments() if editable else [],
        **forms,
    ), status


@bp.get("/accounts/<int:account_id>", endpoint="account")
@requires(*READERS)
def account_page(account_id: int) -> ResponseReturnValue:
    return _account_page(policies.account_or_404(account_id))


def _editable(account_id: int) -> Organization:
    """The account, for a change: 404 outside reach, 403 for a reader who may not edit."""
    customer = policies.account_or_404(account_id)
    if not policies.edits_account(current_actor(), customer):
        raise NotAllowed("Only the account's owning CSM or an admin changes it.")
    return customer


def _saved(customer: Organization, message: str) -> ResponseReturnValue:
    flash(message, "success")
    return redirect(url_for("success.account", account_id=customer.id))


def _refused(
    customer: Organization, form_name: str, form: Any, error: ServiceError
) -> ResponseReturnValue:
    db.session.rollback()
    form.form_errors.append(error.message)
    return _account_page(db.session.get(Organization, customer.id), 400, **{form_name: form})


@bp.post("/accounts/<int:account_id>/record", endpoint="update_account")
@requires(*READERS)
def update_account(account_id: int) -> ResponseReturnValue:
    customer = _editable(account_id)
    form = AccountRecordForm()
    if not form.validate_on_submit():
        return _account_page(customer, 400, record_form=form)
    values = accounts.AccountRecord(
        segment=form.segment.data or "",
        touch_model=form.touch_model.data,
        stage=form.stage.data,
        renewal_date=form.renewal_date.data,
        arr=form.arr.data or "",
        licences_bought=form.licences_bought.data,
    )
    try:
        accounts.update_account(current_actor(), customer, values)
    except ServiceError as error:
        return _refused(customer, "record_form", form, error)
    return _saved(customer, f"Account record of {customer.name} saved.")


@bp.post("/accounts/<int:account_id>/owner", endpoint="assign_owner")
@requires(*READERS)
def assign_owner(account_id: int) -> ResponseReturnValue:
    customer = policies.account_or_404(account_id)
    if not policies.assigns_owner(current_actor()):
        raise NotAllowed("Only an admin assigns an account's owner.")
    form = OwnerForm()
    form.csm_id.choices = [SelectChoice(0, "Nobody")] + [
        SelectChoice(m.id, str(m.id)) for m in accounts.csm_choices(customer.tenant_id)
    ]
    if not form.validate_on_submit():
        return _account_page(customer, 400, owner_form=form)
    try:
        accounts.assign_csm(current_actor(), customer, form.csm_id.data or None)
    except ServiceError as error:
        return _refused(customer, "owner_form", form, error)
    return _saved(customer, f"Owner of {customer.name} saved.")


@bp.post("/accounts/<int:account_id>/contacts", endpoint="change_contact")
@requires(*READERS)
def change_contact(account_id: int) -> ResponseReturnValue:
    customer = _editable(account_id)
    form = ContactForm()
    if not form.validate_on_submit():
        return _account_page(customer, 400, contact_form=form)
    change = accounts.ContactChange(
        role=form.role.data, name=form.name.data, email=form.email.data or "", since=form.since.data
    )
    try:
        made = accounts.change_key_contact(current_actor(), customer, change)
    except ServiceError as error:
        return _refused(customer, "contact_form", form, error)
    if made is None:
        flash("That person already holds the role; nothing changed.", "info")
        return redirect(url_for("success.account", account_id=customer.id))
    return _saved(customer, f"{made.role.label} contact saved; the change is on the timeline.")


@bp.post("/accounts/<int:account_id>/notes", endpoint="add_note")
@requires(*READERS)
def add_note(account_id: int) -> ResponseReturnValue:
    customer = _editable(account_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _account_page(customer, 400, note_form=form)
    try:
        accounts.add_note(current_actor(), customer, form.body.data)
    except ServiceError as error:
        return _refused(customer, "note_form", form, error)
    return _saved(customer, "Note added to the timeline.")
