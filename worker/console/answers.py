"""/answers: every answer and comment in the caller's scope, filtered and searched, and its CSV.

Filters travel in the query string (`since`, `until` exclusive as `ces report`, `connector`, `channel`,
`group`, `agent`, `language`, `scale`, `score`, `low`, `with_comment`, `q`), so any number elsewhere in
the console can link to the answers behind it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from ces.worker.console.auth import Caller, require
from ces.worker.console.overview import DRIVER_NAMES
from ces.worker.console.ranges import a_day
from ces.worker.console.render import Problem, page
from ces.worker.console.security import console_router
from ces.worker.console.services import rt_of
from ces.worker.i18n import N_
from ces.worker.queries import answers
from ces.worker.queries.answers import AnswerFilter
from ces.worker.queries.reports import default_range
from ces.worker.rollups import DRIVERS
from ces.worker.surveys.scales import SCALES

router = console_router()
PER_PAGE = 50
MAX_TEXT = 200  # a filter value longer than any group, agent or search people type


class FilterProblem(ValueError):
    """A filter value that cannot be used: `message` is a msgid (N_) with %(name)s parameters."""

    def __init__(self, message: str, **params):
        super().__init__(message % params)
        self.message, self.params = message, params


def _text(params, name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if len(value) > MAX_TEXT:
        raise FilterProblem(N_("“%(name)s” is too long."), name=name)
    return value or None


def _day(params, name: str, default: date) -> date:
    value = params.get(name)
    if not value:
        return default
    try:
        return a_day(value, exclusive_end=name == "until")
    except ValueError:
        raise FilterProblem(N_("“%(value)s” is not a date like 2026-01-31 between the years 1900 and 2999."),
                            value=value[:40]) from None


def _score(params) -> tuple[int, int] | None:
    """`score=2` or a range `score=5-7` (the overview's "easy" answers)."""
    value = params.get("score")
    if not value:
        return None
    low, _, high = value.partition("-")
    high = high or low
    if not all(v.isascii() and v.isdigit() and 1 <= int(v) <= 7 for v in (low, high)) or int(low) > int(high):
        raise FilterProblem(N_("A score is a number from 1 to 7, or a range like 5-7."))
    return int(low), int(high)


def _range(params, today: date) -> tuple[date, date]:
    """`since`/`until` (until excluded, as `ces report`) or the console's `from`/`to` (both included)."""
    since, until = default_range(today)
    if params.get("from") or params.get("to"):
        first = _day(params, "from", since)
        until = _day(params, "to", until - timedelta(days=1)) + timedelta(days=1)
        return first, until
    return _day(params, "since", since), _day(params, "until", until)


def parse_filter(params, today: date) -> AnswerFilter:
    """The filter from query parameters (the console's page, its CSV and the API read the same)."""
    since, until = _range(params, today)
    if until <= since:
        raise FilterProblem(N_("The end of the range must come after its start."))
    scale = _text(params, "scale")
    if scale is not None and scale not in SCALES:
        raise FilterProblem(N_("The scale is ces7 or effort5."))
    driver = _text(params, "driver")
    if driver is not None and driver not in DRIVERS:
        raise FilterProblem(N_("“%(value)s” is not a driver of effort."), value=driver[:40])
    return AnswerFilter(since=since, until=until, connector=_text(params, "connector"),
                        channel=_text(params, "channel"), group=_text(params, "group"), agent=_text(params, "agent"),
                        language=_text(params, "language"), scale=scale, score=_score(params),
                        low=params.get("low") == "1", with_comment=params.get("with_comment") == "1",
                        driver=driver, q=_text(params, "q") or "")


class BadFilter(Problem):
    status = 400
    title = N_("This filter cannot be used")


def read_filter(params) -> AnswerFilter:
    """The filter from a query string; a bad value is a clear 400 page."""
    try:
        return parse_filter(params, datetime.now(timezone.utc).date())
    except FilterProblem as problem:
        raise BadFilter(message=problem.message, **problem.params) from None


def _page_number(params) -> int:
    value = params.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 100_000 else 1


def _listing(rt, caller: Caller, f: AnswerFilter, number: int) -> dict:
    with rt.transaction() as s:
        total = answers.count(s, caller.scope, f)
        last = max(1, -(-total // PER_PAGE))
        number = min(number, last)
        rows = answers.page(s, caller.scope, f, offset=(number - 1) * PER_PAGE, limit=PER_PAGE)
        options = answers.choices(s, caller.scope, f.since, f.until)
    return dict(total=total, rows=rows, number=number, last=last, options=options,
                first_shown=(number - 1) * PER_PAGE + 1 if rows else 0, last_shown=(number - 1) * PER_PAGE + len(rows))


@router.get("/answers")
async def answers_page(request: Request, caller: Caller = Depends(require())):
    f = read_filter(request.query_params)
    listing = await run_in_threadpool(_listing, rt_of(request), caller, f, _page_number(request.query_params))
    return page(request, "answers.html", caller=caller, f=f, params=f.as_params(), scales=SCALES,
                driver_names=DRIVER_NAMES, **listing)


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run: customer text starting with = + - @ (or a tab or
    carriage return) is a formula to Excel and LibreOffice, so it gets a leading apostrophe (OWASP,
    "CSV Injection")."""
    text = "" if value is None else value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rt, scope, f: AnswerFilter) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(answers.CSV_COLUMNS)
    with rt.transaction() as s:
        for row in answers.all_rows(s, scope, f):
            writer.writerow(safe_cell(getattr(row, column)) for column in answers.CSV_COLUMNS)
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
    yield out.getvalue()


@router.get("/answers.csv")
async def answers_csv(request: Request, caller: Caller = Depends(require())):
    f = read_filter(request.query_params)
    name = f"answers-{f.since.isoformat()}-{f.until.isoformat()}.csv"
    return StreamingResponse(csv_lines(rt_of(request), caller.scope, f), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
