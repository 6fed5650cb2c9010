"""Customer pages: the cart and checkout."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from accounts.models import Organization
from core.errors import NotFound, ServiceError
from core.extensions import db
from core.navigation import nav_item
from core.permissions import current_actor, requires
from ordering import bp, carts, checkout, payment_views
from ordering.forms import AddToCartForm, CheckoutForm, QuantityForm, choice
from ordering.intake import questions_of
from ordering.models import OrderState, PaymentRoute

ORDERING_ROLES = carts.ORDERING_ROLES

nav_item("Cart", "ordering.cart", *ORDERING_ROLES, group="Order", icon="cart3")


@bp.post("/cart/add")
@requires(*ORDERING_ROLES)
def add_to_cart() -> ResponseReturnValue:
    form = AddToCartForm()
    if not form.validate_on_submit():
        message = next(iter(form.errors.values()), ["Choose a servlet to order."])[0]
        flash(f"Nothing added: {message}", "danger")
        return redirect(request.referrer or url_for("catalog.browse"))
    order_now = request.form.get("then") == "checkout"  # "Order now" on a recommendation
    try:
        carts.add_to_cart(
            current_actor(),
            form.servlet_id.data,
            form.quantity.data,
            form.catalog_id.data,
            already_there_is_enough=order_now,
        )
    except NotFound:
        flash("That servlet is not offered in your catalogs.", "danger")
        return redirect(url_for("catalog.browse"))
    except ServiceError as error:
        flash(error.message, "danger")
        return redirect(request.referrer or url_for("ordering.cart"))
    if order_now:
        return redirect(url_for("ordering.checkout_page"))
    flash("Added to your cart.", "success")
    return redirect(url_for("ordering.cart"))


@bp.get("/cart")
@requires(*ORDERING_ROLES)
def cart() -> ResponseReturnValue:
    priced = carts.priced_cart(current_actor())
    titles = carts.titles_of([line.line.servlet_id for line in priced.unavailable])
    return render_template(
        "ordering/cart.html", priced=priced, titles=titles, quantity_form=QuantityForm()
    )


@bp.post("/cart/lines/<int:cart_line_id>")
@requires(*ORDERING_ROLES)
def set_quantity(cart_line_id: int) -> ResponseReturnValue:
    form = QuantityForm()
    form.validate()
    quantity = form.quantity.data if not form.quantity.errors else None
    try:
        carts.set_quantity(current_actor(), cart_line_id, quantity)
    except NotFound:
        raise  # the error handler answers 404: not this person's line
    except ServiceError as error:
        flash(error.message, "danger")
    return redirect(url_for("ordering.cart"))


@bp.post("/cart/lines/<int:cart_line_id>/remove")
@requires(*ORDERING_ROLES)
def remove_line(cart_line_id: int) -> ResponseReturnValue:
    carts.remove_line(current_actor(), cart_line_id)
    flash("Removed from your cart.", "info")
    return redirect(url_for("ordering.cart"))


def _answers_from_request(priced: carts.PricedCart) -> dict[int, dict[int, str]]:
    """The intake fields of the posted form, by cart line and question index."""
    answers: dict[int, dict[int, str]] = {}
    for line in priced.lines:
        if line.offer is None:
            continue
        questions = questions_of(line.offer.version.intake_questions)
        answers[line.line.id] = {
            q.index: request.form.get(f"intake-{line.line.id}-{q.index}", "") for q in questions
        }
    return answers


@bp.route("/checkout", methods=["GET", "POST"])
@requires(*ORDERING_ROLES)
def checkout_page() -> ResponseReturnValue:
    actor = current_actor()
    if request.method == "POST":
        placed = checkout.placed_with(actor, request.form.get("checkout_token", "")[:64])
        if placed is not None:  # a double click, a retry or a second tab
            return redirect(url_for("ordering.order_page", order_id=placed.id))
    priced = carts.priced_cart(actor)
    if priced.cart is None or not priced.lines:
        return render_template("ordering/checkout_empty.html")
    customer = db.session.get(Organization, actor.organization_id)
    vendor = db.session.get(Organization, actor.vendor_id)
    routes = checkout.payment_routes_for(customer)
    form = CheckoutForm()
    form.payment_route.choices = [choice(route.value, route.label) for route in routes]
    problems: dict[int, dict[int, str]] = {}
    answers = _answers_from_request(priced) if request.method == "POST" else {}
    if form.validate_on_submit():
        try:
            order = checkout.place_order(
                actor,
                checkout.Checkout(
                    token=form.checkout_token.data,
                    payment_route=PaymentRoute(form.payment_route.data),
                    accepted_terms_version=(
                        form.terms_version.data if form.accept_terms.data else None
                    ),
                    po_number=form.po_number.data or "",
                    answers=answers,
                    ip=request.remote_addr,
                ),
            )
        except checkout.IntakeInvalid as error:
            problems = error.problems
            form.form_errors.append(error.message)
        except ServiceError as error:
            form.form_errors.append(error.message)
        else:
            if order.state == OrderState.AWAITING_PAYMENT:
                return payment_views.to_card_payment(order)
            return redirect(url_for("ordering.order_page", order_id=order.id))
        # A refused checkout rolled back: read the cart again for the page.
        priced = carts.priced_cart(actor)
    elif request.method == "POST":
        form.form_errors.append("Some answers need your attention; see the marked fields.")
    if priced.cart is None or not priced.lines:
        return render_template("ordering/checkout_empty.html")
    # Always the cart's current key and terms: what the customer now sees is what it accepts.
    form.checkout_token.data = priced.cart.checkout_token
    form.terms_version.data = vendor.terms_version
    return render_template(
        "ordering/checkout.html",
        form=form,
        priced=priced,
        vendor=vendor,
        answers=answers,
        problems=problems,
        questions={
            line.line.id: questions_of(line.offer.version.intake_questions)
            for line in priced.lines
            if line.offer is not None
        },
        titles=carts.titles_of([line.line.servlet_id for line in priced.unavailable]),
    )
