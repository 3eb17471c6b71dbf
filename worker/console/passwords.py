"""Passwords: Argon2id hashes (argon2-cffi), computed on a small pool of threads with a bound on
how many may wait, so that a flood of sign-ins costs at most `hash_workers` cores and never starves
intake: past the bound a sign-in is told to try again (503) instead of queueing."""

from __future__ import annotations

import asyncio
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ces.worker.i18n import N_

MIN_LENGTH = 12
hasher = PasswordHasher()  # RFC 9106's second recommended parameters (64 MiB, 3 passes)


class Busy(Exception):
    """More sign-ins at once than the pool takes."""


def problem(password: str, email: str) -> str | None:
    """Why a new password is refused, as a message id (its page fills %(min_length)s), or None.
    The page states both rules beside the field."""
    if len(password) < MIN_LENGTH:
        return N_("The password needs at least %(min_length)s characters.")
    if password.strip().lower() == email.strip().lower():
        return N_("The password cannot be your e-mail address.")
    return None


@cache
def _dummy() -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def verify(stored: str | None, password: str) -> bool:
    """Whether the password matches; with nothing stored (unknown person, no password yet) a dummy
    hash is verified all the same, so that the time taken does not tell whether an account exists."""
    try:
        return hasher.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return hasher.check_needs_rehash(stored)


def hash_password(password: str) -> str:
    return hasher.hash(password)


class HashPool:
    """Runs Argon2 work on `workers` threads; at most `queue` more may wait, others get Busy."""

    def __init__(self, workers: int, queue: int):
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ces-argon2")
        self._slots = threading.BoundedSemaphore(workers + queue)

    async def run(self, fn, *args):
        if not self._slots.acquire(blocking=False):
            raise Busy
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        # The slot is freed when the work ends, not when the caller stops waiting for it.
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)
