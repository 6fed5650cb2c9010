"""The sidebar, filled by each area so core knows no area's routes.

An area registers each page it offers with the group it belongs to (Sell, Order, Deliver,
...) and an icon; the layout shows the groups in ``GROUPS`` order, each with the items the
signed-in member's role may open, and leaves out a group with none.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context
from flask_login import current_user

from core import bp
from core.permissions import Role
from core.templating import fixed_url

# The sidebar's groups, in the order it shows them (UI.md: the shell).
GROUPS = ("Sell", "Order", "Deliver", "Bill", "Success", "Admin")


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: frozenset[Role]
    group: str
    icon: str  # a Bootstrap Icons name, shown beside the label, e.g. "cart3"

    @property
    def url(self) -> str:
        return fixed_url(self.endpoint)


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]


_items: list[NavItem] = []


def nav_item(label: str, endpoint: str, *roles: Role, group: str, icon: str) -> None:
    """Show ``label`` linking to ``endpoint`` under ``group`` to members holding one of
    ``roles``."""
    if group not in GROUPS:
        raise ValueError(f"unknown navigation group {group!r}; one of {GROUPS}")
    _items.append(NavItem(label, endpoint, frozenset(roles), group, icon))


def groups_for(role: Role) -> list[NavGroup]:
    """The sidebar of ``role``: its groups in order, items in registration order."""
    mine = [item for item in _items if role in item.roles]
    groups = [NavGroup(name, tuple(item for item in mine if item.group == name)) for name in GROUPS]
    return [group for group in groups if group.items]


@bp.app_context_processor
def navigation() -> dict[str, list]:
    if not has_request_context():
        return {"nav_items": [], "nav_groups": []}
    membership = current_user.membership if current_user.is_authenticated else None
    if membership is None:
        return {"nav_items": [], "nav_groups": []}
    groups = groups_for(membership.role)
    return {"nav_items": [item for g in groups for item in g.items], "nav_groups": groups}
