"""Structured logs (one JSON object a line) that never carry secrets or survey tokens."""

from __future__ import annotations

import logging
import re
import sys

import structlog

# The configured level, for the per-request lines: below it they are skipped before structlog is
# even asked (its lazy logger proxy costs microseconds per call on intake's hot path).
threshold = logging.INFO

_SECRET_KEYS = re.compile(r"(pass(word)?|secret|token|authorization|api[_-]?key|cookie)", re.I)
_TOKEN_PATH = re.compile(r"/([sua])/[A-Za-z0-9_-]{16,}")


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
        foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()] + processors
        + [structlog.processors.format_exc_info]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # urllib3 logs every request line, and webhook URLs (Slack, Teams) are secrets; uvicorn's access
    # log prints raw paths (ours redacts token paths); aiosmtpd and alembic are chatty.
    for noisy in ("urllib3", "uvicorn.access", "alembic.runtime.migration", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
