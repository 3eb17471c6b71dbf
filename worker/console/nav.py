"""The console's navigation: the pages that exist, each with the roles that see it. A page's
engineer appends its entry here (Drivers, Follow-ups, Answers, Teams)."""

from __future__ import annotations

from dataclasses import dataclass

from ces.worker.db.models import Role
from ces.worker.i18n import N_


@dataclass(frozen=True)
class NavItem:
    label: str  # marked with N_, translated where shown
    path: str
    roles: tuple[str, ...] = Role.ALL


NAV: list[NavItem] = [
    NavItem(N_("Overview"), "/"),
    NavItem(N_("Follow-ups"), "/follow-ups"),
    NavItem(N_("Drivers"), "/drivers"),
    NavItem(N_("Teams and agents"), "/teams"),
    NavItem(N_("Answers"), "/answers"),
    NavItem(N_("Tickets"), "/tickets"),
    NavItem(N_("Admin"), "/admin", roles=(Role.ADMIN,)),
]

# The admin pages, shown as a second row under "Admin" (templates/_admin_nav.html).
ADMIN_NAV: list[NavItem] = [
    NavItem(N_("Health"), "/admin/health", roles=(Role.ADMIN,)),
    NavItem(N_("Connectors"), "/admin/connectors", roles=(Role.ADMIN,)),
    NavItem(N_("Queues"), "/admin/queues", roles=(Role.ADMIN,)),
    NavItem(N_("People"), "/admin/people", roles=(Role.ADMIN,)),
    NavItem(N_("API tokens"), "/admin/tokens", roles=(Role.ADMIN,)),
    NavItem(N_("Audit log"), "/admin/audit", roles=(Role.ADMIN,)),
]


def nav_for(role: str, current: str, items: list[NavItem] | None = None) -> list[dict]:
    return [dict(label=item.label, path=item.path,
                 current=current == item.path or (item.path != "/" and current.startswith(item.path + "/")))
            for item in (NAV if items is None else items) if role in item.roles]
