"""Billing settings pages (finance and admins): the vendor's billing details and each
customer's. The changes go through ``billing.profiles``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from accounts.models import Organization
from billing import bp, profiles, queries
from billing.forms import CustomerBillingForm, VendorBillingForm
from billing.invoices import profile_of
from billing.models import BILLING_STAFF, BillingProfile
from core.errors import ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.permissions import OrgKind, current_actor, get_or_404, requires

nav_item("Billing settings", "billing.settings", *BILLING_STAFF, group="Bill", icon="sliders")


@bp.route("/billing/settings", methods=["GET", "POST"], endpoint="settings")
@requires(*BILLING_STAFF)
def vendor_settings() -> ResponseReturnValue:
    vendor, profile = profiles.vendor_profile(current_actor())
    form = VendorBillingForm(obj=profile or BillingProfile(review_days=2))
    if not form.is_submitted():
        form.tax_rate.data = vendor.tax_rate
        form.invoice_prefix.data = vendor.invoice_prefix
        form.payment_terms_days.data = vendor.payment_terms_days
    if form.validate_on_submit():
        values = profiles.VendorBilling(
            legal=profiles.LegalDetails(
                form.legal_name.data or "", form.address.data or "", form.tax_id.data or ""
            ),
            bank_details=form.bank_details.data or "",
            tax_rate=form.tax_rate.data,
            invoice_prefix=form.invoice_prefix.data or "",
            payment_terms_days=form.payment_terms_days.data,
            review_days=form.review_days.data,
        )
        try:
            profiles.update_vendor_billing(current_actor(), values)
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            flash("Billing settings saved. They apply to invoices issued from now on.", "success")
            return redirect(url_for("billing.settings"))
    status = 400 if form.is_submitted() else 200
    return render_template("billing/settings.html", form=form, vendor=vendor), status


@bp.get("/billing/customers", endpoint="customer_profiles")
@requires(*BILLING_STAFF)
def customer_profiles() -> ResponseReturnValue:
    customers = queries.customers()
    return render_template(
        "billing/customer_profiles.html",
        customers=customers,
        profiles=queries.profiles_by_organization(),
    )


@bp.route(
    "/billing/customers/<int:organization_id>", methods=["GET", "POST"], endpoint="customer_profile"
)
@requires(*BILLING_STAFF)
def customer_profile(organization_id: int) -> ResponseReturnValue:
    customer = get_or_404(Organization, organization_id)
    if customer.kind is not OrgKind.CUSTOMER:
        abort(404)
    form = CustomerBillingForm(obj=profile_of(customer.id))
    if form.validate_on_submit():
        values = profiles.CustomerBilling(
            legal=profiles.LegalDetails(
                form.legal_name.data or "", form.address.data or "", form.tax_id.data or ""
            ),
            billing_emails=form.billing_emails.data or "",
            tax_rate=form.tax_rate.data,
            tax_note=form.tax_note.data or "",
        )
        try:
            profiles.update_customer_billing(current_actor(), customer, values)
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            flash(f"Billing details of {customer.name} saved.", "success")
            return redirect(url_for("billing.customer_profiles"))
    status = 400 if form.is_submitted() else 200
    return render_template("billing/customer_profile.html", form=form, customer=customer), status
