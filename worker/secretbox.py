"""Secrets at rest: a console connector's secrets are stored as one Fernet token (of a JSON object),
encrypted with the key in the environment variable CES_SECRET_KEY, never in the database or the TOML.

CES_SECRET_KEY may hold several keys, comma-separated, while rotating: the first encrypts, every one
decrypts (MultiFernet); `ces secrets rotate` re-encrypts every row with the first, after which the
others can go. A token no key opens is CannotDecrypt, never a crash: the connector is then failing
with that cause (README, "Connectors in the console")."""

from __future__ import annotations

import json
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

VARIABLE = "CES_SECRET_KEY"
CANNOT_DECRYPT = f"cannot decrypt its secrets ({VARIABLE} changed?)"


class NoKey(Exception):
    """CES_SECRET_KEY is not set or not a Fernet key: nothing can be stored encrypted."""


class CannotDecrypt(Exception):
    def __init__(self):
        super().__init__(CANNOT_DECRYPT)


def new_key() -> str:
    return Fernet.generate_key().decode()


def keys() -> MultiFernet:
    text = os.environ.get(VARIABLE, "")
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise NoKey(f"{VARIABLE} is not set (make one: python -c \"from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())\")")
    try:
        return MultiFernet([Fernet(p.encode()) for p in parts])
    except ValueError:  # never the value itself: it is the secret
        raise NoKey(f"{VARIABLE} holds something that is not a Fernet key (32 url-safe base64-encoded bytes)") from None


def encrypt(values: dict) -> str:
    return keys().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict:
    try:
        return json.loads(keys().decrypt(token.encode()))
    except (InvalidToken, NoKey, ValueError):
        raise CannotDecrypt from None


def rotated(token: str) -> str:
    """The same secrets, encrypted with the first key (CannotDecrypt if no key opens it)."""
    try:
        return keys().rotate(token.encode()).decode()
    except (InvalidToken, NoKey):
        raise CannotDecrypt from None
