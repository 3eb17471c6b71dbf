"""Connectors made in the console, stored in the `connectors` table.

A row holds what the kind's settings model takes, without secrets (`settings`), and the secrets as
one Fernet token (worker/secretbox.py). A row is validated by the very code `ces config check` runs
on a [[connectors]] table (config.settings.validate_connectors), its secrets given as held values
(config.secrets.Held); an id the TOML file uses is refused. Every change bumps the row's `version`
(the sum of versions is what every process watches, worker/live_connectors.py) and is audited,
never with a secret. A deleted connector keeps its row (deleted_at) so that the deletion is seen
like any change, and its id stays taken; its events, surveys and answers are kept.
"""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ces.config.models import ConnectorSettings
from ces.config.problems import Problem
from ces.config.secrets import HELD, Held
from ces.config.settings import validate_connectors
from ces.worker import audit, privacy, secretbox
from ces.worker.db.models import StoredConnector, WebhookEvent

WEBHOOK_SECRET = "webhook_secret"
SOURCE = "console"


class StoreError(Exception):
    """What the admin must change, as problems (field, message, fix)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def refused(key: str, message: str, fix: str = "") -> StoreError:
    return StoreError([Problem(key, message, fix, SOURCE)])


@dataclass(frozen=True)
class Loaded:
    """A stored connector as a process uses it: its validated settings (None if they no longer
    validate), and why it is failing, if it is."""

    row_id: str
    kind: str
    settings: ConnectorSettings | None
    problem: str | None
    grace_until: datetime | None
    secret_names: tuple[str, ...] = ()  # the secrets it has (never their values)
    updated: tuple[datetime, str] | None = None  # when, by whom


def validate(kind: str, fields: dict[str, Any], held: Held) -> ConnectorSettings:
    """The kind's own model, as `ces config check` runs it; StoreError names every problem by key."""
    item = {k: v for k, v in fields.items() if not k.endswith(("_env", "_file"))} | {"kind": kind}
    valid, problems = validate_connectors([item], SOURCE, every=True, context={HELD: held})
    if problems:
        raise StoreError([Problem(p.key.removeprefix("connectors[0]."), p.message, p.fix, SOURCE) for p in problems])
    return valid[0][1]


def _check_id(rt, s: Session, connector_id: str) -> None:
    if rt.settings.connector(connector_id) is not None:
        raise refused("id", f"the configuration file already has a connector {connector_id!r}",
                      "choose another id (TOML connectors are edited in the file)")
    if s.get(StoredConnector, connector_id) is not None:
        raise refused("id", f"a connector {connector_id!r} exists already (or did: ids of deleted ones stay taken)",
                      "choose another id")


def _next_version(s: Session) -> int:
    return (s.scalar(select(func.max(StoredConnector.version))) or 0) + 1


def create(rt, kind: str, fields: dict[str, Any], secret_values: dict[str, str], *, actor: str,
           address: str | None = None) -> ConnectorSettings:
    held = Held({k: [v] for k, v in secret_values.items() if v})
    settings = validate(kind, fields, held)
    stored = settings.model_dump(mode="json", exclude_unset=True, exclude={"kind", "id", "enabled", "dry_run"})
    now = rt.now()
    with rt.transaction() as s:
        _check_id(rt, s, settings.id)
        s.add(StoredConnector(id=settings.id, kind=kind, settings=stored,
                              secrets=secretbox.encrypt({k: v[0] for k, v in held.values.items()}),
                              secret_names=sorted(held.values),
                              enabled=settings.enabled, dry_run=settings.dry_run, created_at=now, created_by=actor,
                              updated_at=now, updated_by=actor, version=_next_version(s)))
        audit.record(s, now, actor, "connector.create", target(settings.id), address=address, kind=kind)
    return settings


def target(connector_id: str) -> str:
    return f"connector:{connector_id}"


def _row(s: Session, connector_id: str) -> StoredConnector:
    row = s.get(StoredConnector, connector_id, with_for_update=True)
    if row is None or row.deleted_at is not None:
        raise LookupError(connector_id)
    return row


def _touch(rt, s: Session, row: StoredConnector, by: tuple[str, str | None], action: str, **detail: Any) -> None:
    """The row's version bumped (every process reloads) and the change audited: `by` is (actor, address)."""
    row.updated_at, row.updated_by, row.version = rt.now(), by[0], row.version + 1
    audit.record(s, rt.now(), by[0], action, target(row.id), address=by[1], **detail)


def update(rt, connector_id: str, fields: dict[str, Any] | None, secret_values: dict[str, str], *,
           actor: str, address: str | None = None, cleared: set[str] = frozenset()) -> None:
    """New settings (None: the stored ones, e.g. to add the secrets provisioning returned); a secret
    left blank keeps its stored value (if none can be read, the key changed, every one is asked
    for); those in `cleared` are removed."""
    with rt.transaction() as s:
        row = _row(s, connector_id)
        try:
            current = secretbox.decrypt(row.secrets)
        except secretbox.CannotDecrypt:
            current = {}
        merged = {k: v for k, v in current.items() if k not in cleared} | {k: v for k, v in secret_values.items() if v}
        fields = dict(row.settings) if fields is None else fields
        settings = validate(row.kind, fields | {"id": connector_id, "enabled": row.enabled, "dry_run": row.dry_run},
                            Held({k: [v] for k, v in merged.items()}))
        row.settings = settings.model_dump(mode="json", exclude_unset=True,
                                           exclude={"kind", "id", "enabled", "dry_run"})
        row.secrets, row.secret_names = secretbox.encrypt(merged), sorted(merged)
        changed = sorted(k for k, v in secret_values.items() if v)
        _touch(rt, s, row, (actor, address), "connector.update", secrets_changed=changed,
               secrets_removed=sorted(set(current) - set(merged)))


def set_flags(rt, connector_id: str, *, actor: str, address: str | None = None, enabled: bool | None = None,
              dry_run: bool | None = None) -> None:
    with rt.transaction() as s:
        row = _row(s, connector_id)
        if enabled is not None:
            row.enabled = enabled
        if dry_run is not None:
            row.dry_run = dry_run
        _touch(rt, s, row, (actor, address), "connector.flags", enabled=row.enabled, dry_run=row.dry_run)


def new_webhook_secret() -> str:
    return f"whsec_{random.token_urlsafe(24)}"


def rotate_webhook_secret(rt, connector_id: str, new_secret: str | None, *, actor: str,
                          address: str | None = None) -> str:
    """A new webhook secret (the one given, else a random one, returned to show once); the old one
    is still accepted for `console.webhook_secret_grace_hours`."""
    value = new_secret or new_webhook_secret()
    hours = rt.settings.console.webhook_secret_grace_hours
    with rt.transaction() as s:
        row = _row(s, connector_id)
        current = secretbox.decrypt(row.secrets)  # CannotDecrypt: nothing to keep for a grace period
        old = current.get(WEBHOOK_SECRET)
        row.secrets = secretbox.encrypt(current | {WEBHOOK_SECRET: value})
        row.previous_webhook_secret = secretbox.encrypt({WEBHOOK_SECRET: old}) if old else None
        row.grace_until = rt.now() + timedelta(hours=hours) if old else None
        _touch(rt, s, row, (actor, address), "connector.rotate_webhook_secret", grace_hours=hours)
    return value


def delete(rt, connector_id: str, *, actor: str, address: str | None = None, erase: bool = False) -> dict[str, int]:
    """Gone from every process; its id stays taken. Its data (events, tickets, surveys, answers…) is
    kept, or with `erase` erased once its webhooks are refused (privacy.erase_connector); the audit
    log says which, with the counts erased."""
    with rt.transaction() as s:
        row = _row(s, connector_id)
        row.deleted_at, row.secrets, row.previous_webhook_secret = rt.now(), "", None  # its secrets go
        _touch(rt, s, row, (actor, address), "connector.delete", data="erasing" if erase else "kept")
    rt.health.forget(f"connector:{connector_id}")
    if not erase:
        return {}
    erased = privacy.erase_connector(rt, connector_id)
    with rt.transaction() as s:
        audit.record(s, rt.now(), actor, "connector.erase", target(connector_id), address=address, **erased)
    return erased


def watermark(s: Session) -> tuple[int, int]:
    """(rows, sum of versions): changes with every change of any row. One cheap query."""
    count, total = s.execute(select(func.count(), func.coalesce(func.sum(StoredConnector.version), 0))).one()
    return int(count), int(total)


def _held(row: StoredConnector, now: datetime) -> Held:
    try:
        values = {k: [v] for k, v in secretbox.decrypt(row.secrets).items()}
        if row.previous_webhook_secret and row.grace_until and row.grace_until > now:
            old = secretbox.decrypt(row.previous_webhook_secret).get(WEBHOOK_SECRET)
            if old and WEBHOOK_SECRET in values:
                values[WEBHOOK_SECRET].append(old)
    except secretbox.CannotDecrypt:
        return Held({}, problem=secretbox.CANNOT_DECRYPT, names=frozenset(row.secret_names or ()))
    return Held(values)


def load(s: Session, now: datetime) -> list[Loaded]:
    """Every live stored connector, validated with its secrets held; never raises for one row."""
    out = []
    for row in s.scalars(select(StoredConnector).where(StoredConnector.deleted_at.is_(None))
                         .order_by(StoredConnector.id)):
        held = _held(row, now)
        fields = dict(row.settings) | {"id": row.id, "enabled": row.enabled, "dry_run": row.dry_run}
        try:
            settings, problem = validate(row.kind, fields, held), held.problem
        except StoreError as exc:
            settings, problem = None, f"its settings no longer validate: {exc}"
        out.append(Loaded(row.id, row.kind, settings, problem,
                          row.grace_until if row.grace_until and row.grace_until > now else None,
                          tuple(row.secret_names or ()), (row.updated_at, row.updated_by)))
    return out


def stored(rt) -> list[Loaded]:
    """The console's connectors as they are now in the database (not as a process last loaded them)."""
    with rt.transaction() as s:
        return load(s, rt.now())


def first_webhook(rt, connector_id: str) -> tuple[datetime | None, int]:
    """When the first webhook to this connector was stored, and how many were: intake stores only
    what its signature verified, so any is a signed webhook accepted."""
    with rt.transaction() as s:
        first, count = s.execute(select(func.min(WebhookEvent.received_at), func.count())
                                 .where(WebhookEvent.connector_id == connector_id)).one()
    return first, int(count)


def rotate_keys(rt, *, actor: str = audit.CLI) -> tuple[int, list[str]]:
    """Re-encrypt every row with the first key of CES_SECRET_KEY; returns (rows done, ids no key opens)."""
    done, failed = 0, []
    with rt.transaction() as s:
        for row in s.scalars(select(StoredConnector).where(StoredConnector.deleted_at.is_(None)).with_for_update()):
            try:
                row.secrets = secretbox.rotated(row.secrets)
                if row.previous_webhook_secret:
                    row.previous_webhook_secret = secretbox.rotated(row.previous_webhook_secret)
            except secretbox.CannotDecrypt:
                failed.append(row.id)
                continue
            done += 1
        audit.record(s, rt.now(), actor, "secrets.rotate", rows=done, failed=len(failed))
    return done, failed
