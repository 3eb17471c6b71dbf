"""SMTP connections kept open per process, so that a survey mail is one MAIL/RCPT/DATA on a
connection already greeted (and, in production, already through TLS and the login), not a new
TCP connection, EHLO, STARTTLS, AUTH and QUIT each.

A connection goes back to the pool only after a message it carried was accepted; any error closes
it. One idle for `smtp.noop_after_idle_seconds` is checked with a NOOP before reuse, one idle for
`smtp.max_idle_seconds` is closed (servers drop idle clients), and one that has carried
`smtp.messages_per_connection` messages is closed with QUIT. Nothing here decides an outcome:
mail.py still tells "not sent", "refused" and "uncertain" apart on whichever connection it gets."""

from __future__ import annotations

import smtplib
import threading
import time
from dataclasses import dataclass, field

from ces.config.models import SmtpSettings


@dataclass
class Kept:
    smtp: smtplib.SMTP
    messages: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    reused: bool = False  # taken from the pool (a broken one is then not the server's answer)


_lock = threading.Lock()
_idle: dict[tuple, list[Kept]] = {}


def _key(settings: SmtpSettings) -> tuple:
    return (settings.host, settings.port, settings.ssl, settings.starttls, settings.secret("username"))


def take(settings: SmtpSettings) -> Kept | None:
    """An idle connection that still answers, or None (the caller opens a new one)."""
    while True:
        with _lock:
            idle = _idle.get(_key(settings))
            kept = idle.pop() if idle else None
        if kept is None:
            return None
        waited = time.monotonic() - kept.idle_since
        if waited >= settings.max_idle_seconds or (waited >= settings.noop_after_idle_seconds and not _answers(kept)):
            close(kept, polite=False)
            continue
        kept.reused = True
        return kept


def give_back(settings: SmtpSettings, kept: Kept) -> None:
    """After a message was accepted on it: kept for the next one, or closed if it has done enough."""
    kept.messages += 1
    with _lock:
        idle = _idle.setdefault(_key(settings), [])
        if kept.messages < settings.messages_per_connection and len(idle) < settings.pool_size:
            kept.idle_since, kept.reused = time.monotonic(), False
            idle.append(kept)
            return
    close(kept, polite=True)


def _answers(kept: Kept) -> bool:
    try:
        return kept.smtp.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def close(kept: Kept, *, polite: bool) -> None:
    try:
        if polite:
            kept.smtp.quit()
        else:
            kept.smtp.close()
    except Exception:
        kept.smtp.close()


def clear() -> None:
    """Close every kept connection (tests; a process that forks)."""
    with _lock:
        kept = [k for idle in _idle.values() for k in idle]
        _idle.clear()
    for k in kept:
        close(k, polite=False)
