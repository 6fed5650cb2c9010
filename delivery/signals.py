"""Signals the delivery area sends beyond its state machines' ``changed``, so areas above it
(customer success) react without delivery importing them. Receivers run inside the sender's
transaction: whatever they add to the session commits, or rolls back, with the change.

- ``engagement_rated``: sender is the rated ``Engagement`` (locked, its ``csat``, ``nps`` and
  comment set). Customer success opens a follow-up for a low CSAT.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

engagement_rated = _signals.signal("engagement-rated")
