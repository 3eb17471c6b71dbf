"""What `ces config check` verifies beyond the file, unless --offline: the database exists and
its schema is at this version's head, and the broker answers."""

from __future__ import annotations

import redis
from sqlalchemy.exc import SQLAlchemyError

from ces.config import Problem, Settings
from ces.worker.db.engine import make_engine, sqlite_file
from ces.worker.db.migrate import current_revision, head_revision


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_problems(settings: Settings, source: str) -> list[Problem]:
    path = sqlite_file(settings.database_url)
    if path is not None and not path.is_file():  # connecting would create it
        return [Problem("database_url", f"the SQLite file {path} does not exist", "run `ces migrate` to create it",
                        source)]
    engine = make_engine(settings.database_url, connect_timeout=settings.intake.db_timeout_seconds, pool_size=1)
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = _first_line(exc).rpartition("FATAL:")[2].strip()  # PostgreSQL's own words
        if "does not exist" in reason:
            fix = "create the database (e.g. `createdb NAME`), then run `ces migrate`"
        elif "password" in reason or "authentication" in reason:
            fix = "check the user and password in database_url"
        else:
            fix = "start the database, or correct the host and port in database_url"
        return [Problem("database_url", f"cannot connect: {reason}", fix, source)]
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        return [Problem("database_url", f"the schema is at {current or 'nothing'}, this version needs {head}",
                        "run `ces migrate`", source)]
    return []


def broker_problems(settings: Settings, source: str) -> list[Problem]:
    timeout = settings.http.connect_timeout_seconds
    try:
        client = redis.Redis.from_url(settings.broker_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        return [Problem("broker_url", f"Redis does not answer: {_first_line(exc)}",
                        "start Redis, or correct broker_url", source)]
    return []
