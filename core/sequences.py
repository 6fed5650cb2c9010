"""Numbers that count per vendor (orders, engagements, later invoices), without gaps.

``next_number`` increments a vendor's counter in the caller's transaction with one atomic
upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), which both databases run under
the counter row's lock: two transactions asking at once get consecutive numbers, and a
transaction that rolls back gives its number back with it, so numbers have no gaps.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import IdMixin, insert_for
from core.extensions import db


class SequenceCounter(IdMixin, db.Model):
    __tablename__ = "sequence_counter"
    __table_args__ = (sa.UniqueConstraint("vendor_id", "name"),)

    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    name: Mapped[str] = mapped_column(sa.String(40))
    value: Mapped[int] = mapped_column(sa.BigInteger)


def next_number(vendor_id: int, name: str) -> int:
    """The next number of ``vendor_id``'s ``name`` sequence (1, 2, 3...)."""
    table = SequenceCounter.__table__
    stmt = (
        insert_for(db.session, table)
        .values(vendor_id=vendor_id, name=name, value=1)
        .on_conflict_do_update(
            index_elements=[table.c.vendor_id, table.c.name],
            set_={"value": table.c.value + 1},
        )
        .returning(table.c.value)
    )
    return db.session.execute(stmt).scalar_one()
