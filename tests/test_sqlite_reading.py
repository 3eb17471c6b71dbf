"""SQLite has one write lock, which every transaction of ours takes at its start (engine.py): a
check that only reads takes none (Runtime.reading), so it cannot wait for a writer, not even one
its own thread holds."""

from __future__ import annotations

import time

from sqlalchemy import select

from ces.worker.db.models import StoredConnector
from tests.support import SQLITE_ONLY
from tests.test_stored_connectors import add, key  # noqa: F401 (key: a fixture)

pytestmark = SQLITE_ONLY


def test_the_connectors_are_checked_while_the_same_thread_writes(rt, key):  # noqa: F811
    """Whatever code asks for a connector in the middle of a write transaction makes the check for
    changed connectors: it once waited out the 30 s busy timeout there and failed the demo."""
    add(rt)
    started = time.monotonic()
    with rt.transaction() as s:
        s.execute(select(StoredConnector.id)).all()  # holds the write lock
        rt.live_connectors.check()
        assert "zd-console" in rt.connectors
    assert time.monotonic() - started < 2
