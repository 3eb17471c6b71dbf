"""Engines for PostgreSQL (the production choice) and SQLite (the embedded default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from ces.worker.db.counting import count_if_asked


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here, the driver the project installs."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones): connecting
    creates it, so a command that only reads checks it exists first."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite") or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str, *, connect_timeout: float = 5.0, pool_size: int = 5) -> Engine:
    url = normalize_url(url)
    # Errors never quote the statement's parameters: they hold comments, names and addresses, and
    # an error's text ends up in logs and stored reasons.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # SQLite is shared by the server, the worker and the scheduler: WAL lets readers run
            # beside the writer, and a busy timeout waits for the lock instead of failing.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Take the write lock up front: a deferred transaction that upgrades later can fail
            # with "database is locked" without waiting. A read-only one (Runtime.reading) takes
            # none: under WAL it never waits behind a writer, even one its own thread holds.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")

        count_if_asked(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size,
                           connect_args={"connect_timeout": max(1, int(connect_timeout))}, hide_parameters=True)
    count_if_asked(engine)  # the benchmark's statement counts; nothing unless BENCH_SQL_COUNTS is set
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    from ces.worker import rollups  # the models' package imports this module

    factory = sessionmaker(engine, expire_on_commit=False)
    rollups.track(factory)  # every source row written through it marks its rollup day dirty
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session
