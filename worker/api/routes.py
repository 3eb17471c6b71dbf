"""`/api/v1/`: answers with their comments, surveys, the CES report, the flagged tickets and one
ticket's signals and assessment, as JSON (and CSV for answers), for a token's holder. `Authorization: Bearer ces_…`; every call is audited and
counted against the token's rate (`api.rate_per_minute`); errors are the one JSON shape."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone
from typing import Annotated, Literal

import redis
import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from ces.worker import audit
from ces.worker.api.tokens import Holder, holder
from ces.worker.console.answers import FilterProblem, csv_lines, parse_filter
from ces.worker.console.services import address_of, rt_of
from ces.worker.queries import answers, listings
from ces.worker.queries.flags import flags, ticket_effort
from ces.worker.queries.reports import ces_report, day_start

log = structlog.get_logger("ces.api")
router = APIRouter(prefix="/api/v1", tags=["read API"])
bearer = HTTPBearer(auto_error=False, description="a token from `ces tokens create` (ces_…)")
MAX_LIMIT = 500


class RateLimit:
    """A fixed one-minute window per token in Redis, shared by every server process; without Redis
    nothing is refused (logged), as the sign-in throttle does."""

    def __init__(self, settings):
        self.client = redis.Redis.from_url(settings.broker_url, socket_timeout=1, socket_connect_timeout=1)
        self.prefix = f"{settings.broker_prefix}ces:api:"
        self.per_minute = settings.api.rate_per_minute

    def wait_seconds(self, token_id: int, now: datetime) -> int | None:
        key = f"{self.prefix}{token_id}:{int(now.timestamp()) // 60}"
        try:
            count = self.client.pipeline().incr(key).expire(key, 120).execute()[0]
        except redis.RedisError as exc:
            log.warning("api_rate_limit_unavailable", error=type(exc).__name__)
            return None
        return None if count <= self.per_minute else 60 - int(now.timestamp()) % 60


def _limiter(request: Request) -> RateLimit:
    if not hasattr(request.app.state, "api_rate"):
        request.app.state.api_rate = RateLimit(rt_of(request).settings)
    return request.app.state.api_rate


def caller(needed: str):
    """A dependency: the token's holder if the token is live and has `needed`; the call audited."""

    async def dependency(request: Request,
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Holder:
        rt, now = rt_of(request), datetime.now(timezone.utc)
        found = await run_in_threadpool(holder, rt, credentials.credentials, now) if credentials else None
        if found is None:
            raise HTTPException(401, "a live API token is needed: Authorization: Bearer ces_…",
                                headers={"WWW-Authenticate": "Bearer"})
        wait = await run_in_threadpool(_limiter(request).wait_seconds, found.token_id, now)
        if wait:
            raise HTTPException(429, f"this token's rate is used up; try again in {wait} s",
                                headers={"Retry-After": str(wait)})
        allowed = needed in found.scopes
        await run_in_threadpool(audit.record_now, rt, found.actor, f"api.{request.url.path.removeprefix('/api/v1/').split('/')[0]}",
                                address=address_of(request), allowed=allowed)
        if not allowed:
            raise HTTPException(403, f"this token lacks the scope {needed}")
        return found

    return dependency


# --- answers ---------------------------------------------------------------------------------------
class AnswerOut(BaseModel):
    survey_id: int
    ticket: str
    connector: str
    answered_at: datetime
    scale: str
    score: int
    low: bool
    comment: str | None
    language: str | None
    agent: str | None
    group: str | None
    channel: str | None


class AnswerPage(BaseModel):
    items: list[AnswerOut]
    next_cursor: str | None  # give it back as `cursor` for the next page; none: that was the last


def _cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    try:
        at, survey_id = base64.urlsafe_b64decode(value.encode() + b"==").decode().split("|")
        return datetime.fromisoformat(at), int(survey_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(400, "cursor: give back a next_cursor as it came") from None


def _next_cursor(rows: list, limit: int) -> str | None:
    if len(rows) < limit:
        return None
    last = rows[-1]
    return base64.urlsafe_b64encode(f"{last.answered_at.isoformat()}|{last.survey_id}".encode()).decode().rstrip("=")


def _filter(request: Request) -> answers.AnswerFilter:
    try:
        return parse_filter(request.query_params, datetime.now(timezone.utc).date())
    except FilterProblem as problem:
        raise HTTPException(400, str(problem)) from None


def _answer_page(rt, who: Holder, f, cursor, limit: int) -> AnswerPage:
    with rt.transaction() as s:
        rows = answers.after(s, who.scope, f, cursor, limit=limit)
    items = [AnswerOut(survey_id=r.survey_id, ticket=r.ticket, connector=r.connector, answered_at=r.answered_at,
                       scale=r.scale, score=r.score, low=r.low, comment=r.comment, language=r.language, agent=r.agent,
                       group=r.group, channel=r.channel) for r in rows]
    return AnswerPage(items=items, next_cursor=_next_cursor(rows, limit))


@router.get("/answers", response_model=AnswerPage)
async def api_answers(
    request: Request, who: Annotated[Holder, Depends(caller("read:answers"))],
    since: Annotated[str | None, Query(description="first UTC day of surveys sent (default 30 days ago)")] = None,
    until: Annotated[str | None, Query(description="the day after the last, exclusive")] = None,
    connector: str | None = None, channel: str | None = None, group: str | None = None, agent: str | None = None,
    language: str | None = None, scale: Literal["ces7", "effort5"] | None = None,
    score: Annotated[int | None, Query(ge=1, le=7)] = None,
    low: Annotated[Literal["1"] | None, Query(description="1: high-effort answers only")] = None,
    with_comment: Literal["1"] | None = None,
    q: Annotated[str | None, Query(max_length=200, description="every word in the comment")] = None,
    cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    format: Literal["json", "csv"] = "json",
):
    """Confirmed answers to surveys sent in the range, newest first, in the token's person's scope
    (the same rows as the console's answers page and the responses of `ces report`)."""
    f = _filter(request)
    if format == "csv":
        return StreamingResponse(csv_lines(rt_of(request), who.scope, f), media_type="text/csv; charset=utf-8")
    return await run_in_threadpool(_answer_page, rt_of(request), who, f, _cursor(cursor), limit)


# --- the report and the flags ----------------------------------------------------------------------
class ReportRow(BaseModel):
    key: str | None = None  # the group's value with `by`
    surveys_sent: int
    responses: int
    response_rate: float | None
    ces: float | None
    mean: float | None


class Report(BaseModel):
    since: str
    until: str
    scale: str
    by: str | None
    rows: list[ReportRow]


@router.get("/report", response_model=Report)
async def api_report(request: Request, who: Annotated[Holder, Depends(caller("read:reports"))],
                     since: str | None = None, until: str | None = None,
                     scale: Literal["ces7", "effort5"] = "ces7",
                     by: Literal["connector", "channel", "group", "agent", "week"] | None = None):
    """`ces report`'s numbers: surveys sent, responses, response rate, CES and mean, overall or by a key,
    of what the token's person sees (a lead: their teams; an agent: their own surveys)."""
    f = _filter(request)
    result = await run_in_threadpool(ces_report, who.scope, rt_of(request), f.since, f.until, scale=scale, by=by)
    rows = [ReportRow(key=r.get(by) if by else None, **{k: v for k, v in r.items() if k != by}) for r in result["rows"]]
    return Report(since=result["since"], until=result["until"], scale=result["scale"], by=by, rows=rows)


class Flag(BaseModel):
    connector: str
    ticket_id: str
    level: str
    index: int
    basis: str
    partial: bool
    incomplete: str | None
    reasons: list[str]
    why: str
    assessed_at: datetime


@router.get("/flags", response_model=list[Flag])
async def api_flags(request: Request, who: Annotated[Holder, Depends(caller("read:flags"))],
                    level: Literal["high", "medium", "low", "all"] = "high", since: str | None = None,
                    connector: str | None = None, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50):
    """Assessed tickets with their reasons, newest first (`ces flags`)."""
    day = _filter(request).since if since else None
    return await run_in_threadpool(lambda: flags(who.scope, rt_of(request), level=None if level == "all" else level, since=day,
                                                 connector=connector, limit=limit))


# --- surveys and one ticket ------------------------------------------------------------------------
class SurveyOut(BaseModel):
    id: int
    connector: str
    ticket: str
    state: str
    created: datetime
    due: datetime | None  # a pending survey: when it goes out
    sent: datetime | None
    attempts: int
    reason: str | None  # why it was skipped, failed or is uncertain


class SurveyPage(BaseModel):
    items: list[SurveyOut]
    next_cursor: str | None  # give it back as `cursor` for the next page; none: that was the last


def _survey_page(rt, who: Holder, f, state: str | None, connector: str | None, cursor: str | None,
                 limit: int) -> SurveyPage:
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise HTTPException(400, "cursor: give back a next_cursor as it came")
    rows = listings.surveys(who.scope, rt, failed=False, limit=limit, connector=connector, state=state,
                            before=int(cursor) if cursor else None, created=(day_start(f.since), day_start(f.until)))
    items = [SurveyOut(**{k: v for k, v in r.items() if k != "to"}) for r in rows]  # no customer address
    return SurveyPage(items=items, next_cursor=str(rows[-1]["id"]) if len(rows) >= limit else None)


@router.get("/surveys", response_model=SurveyPage)
async def api_surveys(
    request: Request, who: Annotated[Holder, Depends(caller("read:surveys"))],
    since: Annotated[str | None, Query(description="first UTC day the surveys were made (default 30 days ago)")] = None,
    until: Annotated[str | None, Query(description="the day after the last, exclusive")] = None,
    state: Literal["pending", "preparing", "sending", "sent", "uncertain", "failed", "cancelled", "skipped",
                   "test"] | None = None,
    connector: str | None = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
):
    """Surveys made in the range, newest first, with their state and why (`ces surveys list`), in the
    token's person's scope; never the customer's address."""
    f = _filter(request)
    return await run_in_threadpool(_survey_page, rt_of(request), who, f, state, connector, cursor, limit)


class ReasonOut(BaseModel):
    code: str
    text: str
    weight: float | None  # its share of the score (the learned model: log-odds; fixed weights: points)


class AssessmentOut(BaseModel):
    level: str
    index: int
    basis: str  # survey (the answer decided) or signals
    partial: bool
    model_id: int | None  # the learned model that scored it; none: the fixed weights
    assessed_at: datetime
    reasons: list[ReasonOut]


class TicketEffort(BaseModel):
    connector: str
    ticket_id: str
    channel: str | None
    status: str | None
    signals: dict | None  # transfers, reopens, repeat contacts, waits… as `ces signals show` prints them
    assessment: AssessmentOut | None


@router.get("/tickets/{connector}/{ticket_id}", response_model=TicketEffort)
async def api_ticket(request: Request, connector: str, ticket_id: str,
                     who: Annotated[Holder, Depends(caller("read:flags"))]):
    """One ticket's signals and its effort assessment with each reason and its weight (`ces signals show`)."""
    found = await run_in_threadpool(ticket_effort, who.scope, rt_of(request), connector, ticket_id)
    if found is None:
        raise HTTPException(404, "no such ticket here (or not one this token's person may see)")
    return found
