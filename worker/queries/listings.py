"""The listings behind `ces surveys`, `ces events`, `ces alerts` and `ces connectors list`: rows of
plain values, newest first (formats.py prints them as a table, JSON or CSV). The console's queues
(/admin/queues) read the same rows, narrowed to a connector and a state and paged by id."""

from __future__ import annotations

from sqlalchemy import func, select

from ces.worker.db.models import Alert, AlertState, EventState, FollowUp, Survey, SurveyState, WebhookEvent
from ces.worker.metrics import last_api_error
from ces.worker.queries.scope import Scope
from ces.worker.runtime import Runtime
from ces.worker.signals.effort import duration


def _narrowed(stmt, model, problems: tuple[str, ...], *, failed: bool, state: str | None, before: int | None):
    """`failed`: the problem states only; `state`: one of them; `before`: older than this id (a page)."""
    if state is not None:
        stmt = stmt.where(model.state == state)
    elif failed:
        stmt = stmt.where(model.state.in_(problems))
    return stmt if before is None else stmt.where(model.id < before)


def surveys(scope: Scope, rt: Runtime, *, failed: bool, limit: int, connector: str | None = None,
            state: str | None = None, before: int | None = None, created: tuple | None = None) -> list[dict]:
    """Surveys with their state and reason; `failed`: only failed and uncertain ones; `created`:
    made in [since, until) (the read API's range)."""
    with rt.transaction() as s:
        stmt = _narrowed(select(Survey).order_by(Survey.id.desc()).limit(limit), Survey, SurveyState.PROBLEMS,
                         failed=failed, state=state, before=before)
        if connector is not None:
            stmt = stmt.where(Survey.connector_id == connector)
        if created is not None:
            stmt = stmt.where(Survey.created_at >= created[0], Survey.created_at < created[1])
        # `due`: when a pending survey goes out (its delay, quiet hours, or the next try after a failure).
        return [dict(id=v.id, connector=v.connector_id, ticket=v.ticket_external_id, state=v.state,
                     to=v.email, created=v.created_at, due=v.send_after if v.state == SurveyState.PENDING else None,
                     sent=v.sent_at, attempts=v.attempts, reason=v.reason)
                for v in s.scalars(scope.surveys(stmt))]


def events(rt: Runtime, *, failed: bool, limit: int, connector: str | None = None,
           before: int | None = None) -> list[dict]:
    """Stored webhook events with their state and outcome; `failed`: only failed (parked) ones."""
    with rt.transaction() as s:
        stmt = _narrowed(select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit), WebhookEvent,
                         (EventState.FAILED,), failed=failed, state=None, before=before)
        if connector is not None:
            stmt = stmt.where(WebhookEvent.connector_id == connector)
        return [dict(id=e.id, connector=e.connector_id, ticket=e.ticket_id, event=e.summary, state=e.state,
                     attempts=e.attempts, received=e.received_at,
                     outcome=(e.error or e.outcome or "")[:160] or None)
                for e in s.scalars(stmt)]


def alerts(scope: Scope, rt: Runtime, *, failed: bool, limit: int, connector: str | None = None,
           state: str | None = None, before: int | None = None) -> list[dict]:
    """Alert deliveries with their state, age and follow-up state (webhook URLs never shown);
    `failed`: only failed and uncertain ones; `connector`: the alerts of its surveys (a daily
    digest belongs to none)."""
    now = rt.now()
    with rt.transaction() as s:
        stmt = _narrowed(select(Alert, FollowUp.state, FollowUp.followed_up_note)
                         .outerjoin(FollowUp, FollowUp.id == Alert.follow_up_id).order_by(Alert.id.desc()).limit(limit),
                         Alert, AlertState.PROBLEMS, failed=failed, state=state, before=before)
        if connector is not None:
            stmt = stmt.where(Alert.survey_id.in_(select(Survey.id).where(Survey.connector_id == connector)))
        return [dict(id=a.id, kind=a.kind, route=a.route, type=a.route_type, to=a.recipient,
                     ticket=a.content.get("ticket_id") or f"{len(a.content.get('tickets', []))} tickets",
                     state=a.state, follow_up=state, age=duration((now - a.created_at).total_seconds()),
                     created=a.created_at, reason=a.reason, note=note)
                for a, state, note in s.execute(scope.follow_ups(stmt))]


def problem_counts(rt: Runtime) -> dict[str, int]:
    """How many surveys and alerts failed or are uncertain, and how many events are parked."""
    with rt.transaction() as s:
        return {name: s.scalar(select(func.count()).select_from(model).where(model.state.in_(states)))
                for name, model, states in (("surveys", Survey, SurveyState.PROBLEMS),
                                            ("alerts", Alert, AlertState.PROBLEMS),
                                            ("events", WebhookEvent, (EventState.FAILED,)))}


def connectors(rt: Runtime) -> list[dict]:
    """Each connector with its webhook URL, mode, last event, API calls and its latest error."""
    rows = []
    with rt.transaction() as s:
        for conn in rt.connectors.values():
            last = s.scalar(select(func.max(WebhookEvent.received_at)).where(WebhookEvent.connector_id == conn.id))
            failed_event = s.execute(select(WebhookEvent.error, WebhookEvent.received_at)
                                     .where(WebhookEvent.connector_id == conn.id,
                                            WebhookEvent.state == EventState.FAILED)
                                     .order_by(WebhookEvent.id.desc()).limit(1)).first()
            # The newer of: an event that failed, a call to the helpdesk that failed.
            errors = [e for e in (tuple(failed_event) if failed_event else None, last_api_error(rt, conn.rate_key))
                      if e]
            error, error_at = max(errors, key=lambda e: e[1]) if errors else (None, None)
            mode = "disabled" if not conn.settings.enabled else ("dry-run" if conn.settings.dry_run else "enabled")
            used = rt.http.limiter.current(conn.rate_key) if rt.http.limiter else -1
            rows.append(dict(id=conn.id, kind=conn.kind, webhook_url=conn.webhook_url, mode=mode,
                             last_event=last, last_error_at=error_at, last_error=error[:160] if error else None,
                             api_calls_last_minute=None if used < 0 else used, rate_limit_per_minute=conn.rate_limit,
                             can=",".join(sorted(conn.capabilities)) or "webhooks only"))
    return rows
