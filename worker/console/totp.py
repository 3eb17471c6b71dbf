"""The optional second factor: time-based one-time codes (RFC 6238, pyotp), as authenticator apps
make them. A code is good once: the step it belongs to is recorded, and a code of that step or an
earlier one is refused after (a code seen over a shoulder cannot be replayed)."""

from __future__ import annotations

import hmac

import pyotp
import segno
from sqlalchemy import or_, select, update

from ces.worker.db.models import User

ISSUER = "ces-worker"
DRIFT_STEPS = 1  # a code of the step before or after is accepted too (clocks drift, people type slowly)


def new_secret() -> str:
    return pyotp.random_base32()


def uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(secret: str, email: str) -> str:
    """The QR code of the URI as an SVG data: URI (an <img>, so no inline style or script)."""
    return segno.make(uri(secret, email), error="m").svg_data_uri(scale=5, border=2)


def matching_step(secret: str, code: str, now) -> int | None:
    """The time step a code belongs to, if it is one of the steps around now."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def use_code(rt, user_id: int, secret: str, code: str) -> bool:
    """Whether the code is right and not used before (its step is then recorded, atomically)."""
    step = matching_step(secret, code, rt.now())
    if step is None:
        return False
    with rt.transaction() as s:
        return s.execute(update(User).where(User.id == user_id, User.totp_secret == secret,
                                            or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                         .values(totp_last_step=step)).rowcount == 1


def enrol(rt, user_id: int, secret: str, code: str) -> bool:
    """Turns the second factor on with a secret the person's app now holds (the code proves it)."""
    step = matching_step(secret, code, rt.now())
    if step is None:
        return False
    with rt.transaction() as s:
        s.execute(update(User).where(User.id == user_id).values(totp_secret=secret, totp_last_step=step))
    return True


def secret_of(rt, user_id: int) -> str | None:
    with rt.transaction() as s:
        return s.scalar(select(User.totp_secret).where(User.id == user_id))


def remove(rt, user_id: int) -> None:
    with rt.transaction() as s:
        s.execute(update(User).where(User.id == user_id).values(totp_secret=None, totp_last_step=None))
