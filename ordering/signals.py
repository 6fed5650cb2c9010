"""Signals the ordering area sends, so areas above it (delivery, billing) react without
ordering importing them. Receivers run inside the sender's transaction: whatever they add to
the session commits, or rolls back, with the order change itself.

- ``order_placed``: sender is the new ``Order`` (lines loaded, first state set), sent before
  an order confirmed at once sends ``order_confirmed``. Outbound webhooks tell integrators.
- ``order_confirmed``: sender is the confirmed ``Order`` (lines loaded). Delivery creates the
  engagements.
- ``order_cancelled``: sender is the cancelled ``Order``; keyword ``reason``. Delivery cancels
  the engagements; card payments are refunded here by the payments code.
- ``card_payment_refunded``: sender is the ``CardPayment`` (locked) whose refunded amount
  Stripe reported grew; keywords ``amount_minor`` (newly refunded) and ``refunded_minor``
  (refunded so far). Billing records the refund against the invoice the payment paid.
- ``delivery_started``: a question, not an event. Receivers return ``True`` when delivery of
  the order has started, which ends the customer's right to cancel.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

order_placed = _signals.signal("order-placed")
order_confirmed = _signals.signal("order-confirmed")
order_cancelled = _signals.signal("order-cancelled")
delivery_started = _signals.signal("order-delivery-started")
card_payment_refunded = _signals.signal("card-payment-refunded")
