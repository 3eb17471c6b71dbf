"""Customers are matched on their normalized e-mail, kept as a keyed hash where it must outlive
the address itself (opt-outs, the fatigue rule): HMAC-SHA256 with a key this installation
generates once and keeps in its database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ces.worker.db.models import AppSecret

HASH_KEY = "email_hash_key"


def normalize_email(address: str) -> str:
    """NFKC, trimmed, lower-cased; no plus or dot stripping (they can be different people)."""
    return unicodedata.normalize("NFKC", address).strip().lower()


def installation_key(rt) -> bytes:
    cached = getattr(rt, "_hash_key", None)
    if cached:
        return cached
    with rt.transaction() as s:
        dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
        s.execute(dialect.insert(AppSecret).values(name=HASH_KEY, value=secrets.token_hex(32))
                  .on_conflict_do_nothing(index_elements=["name"]))
        value = s.scalar(select(AppSecret.value).where(AppSecret.name == HASH_KEY))
    rt._hash_key = bytes.fromhex(value)
    return rt._hash_key


def email_hash(rt, address: str | None) -> str | None:
    if not address or not address.strip():
        return None
    return hmac.new(installation_key(rt), normalize_email(address).encode(), hashlib.sha256).hexdigest()
