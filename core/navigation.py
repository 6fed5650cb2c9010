"""The navigation bar, filled by each area so core knows no area's routes."""

from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context
from flask_login import current_user

from core import bp
from core.permissions import Role
from core.templating import fixed_url


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: frozenset[Role]

    @property
    def url(self) -> str:
        return fixed_url(self.endpoint)


_items: list[NavItem] = []


def nav_item(label: str, endpoint: str, *roles: Role) -> None:
    """Show ``label`` linking to ``endpoint`` to members holding one of ``roles``."""
    _items.append(NavItem(label, endpoint, frozenset(roles)))


@bp.app_context_processor
def navigation() -> dict[str, list[NavItem]]:
    if not has_request_context():
        return {"nav_items": []}
    membership = current_user.membership if current_user.is_authenticated else None
    if membership is None:
        return {"nav_items": []}
    return {"nav_items": [item for item in _items if membership.role in item.roles]}
