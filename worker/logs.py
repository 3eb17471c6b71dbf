"""Structured logs (one JSON object a line) that never carry secrets, survey tokens or customer
text. Our own exceptions' messages are written to be safe; a library's may quote its input (a
psycopg error the value it refused, the e-mail parser the address), so for those a log line or a
stored reason says only the type and where it was raised."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from pathlib import Path

import structlog

# The configured level, for the per-request lines: below it they are skipped before structlog is
# even asked (its lazy logger proxy costs microseconds per call on intake's hot path).
threshold = logging.INFO

_SECRET_KEYS = re.compile(r"(pass(word)?|secret|token|authorization|api[_-]?key|cookie)", re.I)
# The paths whose next segment is a secret: survey, unsubscribe, alert and sign-in links.
TOKEN_LINKS = r"[sua]|login/link"
_TOKEN_PATH = re.compile(rf"/({TOKEN_LINKS})/[A-Za-z0-9_-]{{16,}}")


def _scrub(value):
    if isinstance(value, str):
        return _TOKEN_PATH.sub(lambda m: f"/{m.group(1)}/<token>", value)
    return value


def redact(_logger, _name, event_dict):
    for key in list(event_dict):
        if _SECRET_KEYS.search(key) and key != "event":
            event_dict[key] = "<redacted>"
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


_OURS = str(Path(__file__).resolve().parents[1])  # the installed package (ces/), or the checkout


def _ours(exc: BaseException) -> bool:
    return type(exc).__module__.partition(".")[0] == "ces"


def error_text(exc: BaseException) -> str:
    """What may be said of an error in a log line or a stored reason: the message of one of ours
    (its `detail` if it has one), else the type and the innermost line of our code it passed."""
    if _ours(exc):
        return getattr(exc, "detail", None) or str(exc) or type(exc).__name__
    ours = [f for f in traceback.extract_tb(exc.__traceback__)
            if f.filename.startswith(_OURS) and "site-packages" not in f.filename[len(_OURS):]]  # a venv inside
    where = f" at {Path(ours[-1].filename).relative_to(_OURS)}:{ours[-1].lineno}" if ours else ""
    return f"{type(exc).__name__}{where}"


def _traceback(exc: BaseException) -> str:
    """A traceback whose exception lines are error_text(): frames, never messages from outside."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        said = f": {error_text(exc)}" if _ours(exc) else " (its message is not logged: it may quote customer data)"
        parts.append(f"Traceback (most recent call last):\n{frames}{type(exc).__name__}{said}")
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return "\n\nwhile handling:\n".join(reversed(parts))


def exceptions(_logger, _name, event_dict):
    """structlog's format_exc_info, with _traceback() in place of the standard one."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if exc_info[1] is not None:
            event_dict["exception"] = _traceback(exc_info[1])
    return event_dict


class _CeleryFailures(logging.Filter):
    """Celery logs a failed task's exception repr and its whole traceback text in the message's
    arguments and again in the record's `data` extra: both get error_text() instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict) and "exc" in record.args:
            exc = record.exc_info[1] if record.exc_info else None
            safe = {**record.args, "exc": error_text(exc) if exc else "(not logged)", "traceback": ""}
            record.args = safe
            if isinstance(getattr(record, "data", None), dict):
                record.data = safe
        return True


class _Stderr:
    """Whatever sys.stderr is at the time of writing (tests swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "INFO") -> None:
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        numeric = logging.INFO
    global threshold
    threshold = numeric
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        exceptions,
        redact,
    ]
    structlog.configure(
        processors=processors + [structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),
        cache_logger_on_first_use=False,
    )
    # Libraries (uvicorn, celery, alembic) log through the standard library: same format.
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()] + processors))
    handler.addFilter(_CeleryFailures())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # urllib3 logs every request line, and webhook URLs (Slack, Teams) are secrets; uvicorn's access
    # log prints raw paths (ours redacts token paths); aiosmtpd and alembic are chatty.
    for noisy in ("urllib3", "uvicorn.access", "alembic.runtime.migration", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
