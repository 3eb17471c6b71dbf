"""What the admin pages (/admin/...) share: admins only, who acts and from where (for the audit
log), and ids and choices read from a query or a form, where anything unexpected is nothing."""

from __future__ import annotations

from fastapi import Depends, Request

from ces.worker import audit
from ces.worker.console.auth import Caller, require
from ces.worker.console.render import redirect
from ces.worker.console.security import console_router
from ces.worker.console.services import address_of
from ces.worker.db.models import Role

ADMIN_ONLY = Depends(require(Role.ADMIN))
PAGE_SIZE = 50

router = console_router()


@router.get("/admin")
async def admin_home(request: Request, caller: Caller = ADMIN_ONLY):
    return redirect("/admin/health")  # the first thing an admin wants to know: is everything running


def acting(request: Request, caller: Caller) -> dict[str, str]:
    """The audit log's who and from where, as the domain functions take them (actor=, origin=)."""
    return dict(actor=audit.user(caller.person.id), origin=address_of(request))


def number_or_none(text: object) -> int | None:
    text = str(text or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def numbers(values: list) -> list[int]:
    return [n for n in map(number_or_none, values) if n is not None]


def choice(value: str | None, allowed) -> str | None:
    return value if value in allowed else None


def older_page(rows: list, key: str = "id") -> int | None:
    """The `before` of the next page: a whole page was shown, so there may be more."""
    return rows[-1][key] if len(rows) >= PAGE_SIZE else None
