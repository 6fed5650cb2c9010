"""Signals inside the success area, so its parts react to each other without importing each
other. Receivers run inside the sender's transaction: they only write rows that ask for work
(a queued recompute, a suggestion), which commit or roll back with the change itself.

- ``signals_recorded``: usage signals were stored; sender is the vendor id, keyword
  ``customer_ids`` (a set). Health recomputes those customers.
- ``key_contact_changed``: someone new holds a key contact role (a risk factor); sender is
  the new ``KeyContact``, keyword ``customer`` (the organisation). Health recomputes it.
- ``health_changed``: scores were recomputed; sender is the vendor id, keyword
  ``customer_ids`` (those whose score changed). Playbooks re-evaluate those customers.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

signals_recorded = _signals.signal("success-signals-recorded")
key_contact_changed = _signals.signal("success-key-contact-changed")
health_changed = _signals.signal("success-health-changed")
