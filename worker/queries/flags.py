"""`ces flags`: the assessed tickets with their reasons, and why a partial assessment is partial."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ces.worker.db.models import AssessmentRecord, Ticket, TicketSignalsRecord
from ces.worker.queries.reports import day_start
from ces.worker.queries.scope import Scope
from ces.worker.runtime import Runtime


def flags(scope: Scope, rt: Runtime, *, level: str | None = "high", since: date | None = None,
          connector: str | None = None, limit: int = 50) -> list[dict]:
    """Assessed tickets, hardest first by time: newest first, with their reasons."""
    with rt.transaction() as s:
        stmt = (select(AssessmentRecord, Ticket.connector_id, Ticket.external_id)
                .join(Ticket, Ticket.id == AssessmentRecord.ticket_pk)
                .order_by(AssessmentRecord.assessed_at.desc(), AssessmentRecord.ticket_pk.desc()).limit(limit))
        if level:
            stmt = stmt.where(AssessmentRecord.level == level)
        if since:
            stmt = stmt.where(AssessmentRecord.assessed_at >= day_start(since))
        if connector:
            stmt = stmt.where(Ticket.connector_id == connector)
        found = s.execute(scope.tickets(stmt)).all()
        missing = _missing(s, [a.ticket_pk for a, _, _ in found if a.partial])
    rows = []
    for a, c, t in found:
        incomplete = incomplete_because(missing.get(a.ticket_pk, [])) if a.partial else None
        why = [f"signals incomplete: {incomplete}"] if a.partial else []
        rows.append({"connector": c, "ticket_id": t, "level": a.level, "index": a.effort_index, "basis": a.basis,
                     "partial": a.partial, "incomplete": incomplete, "reasons": [r["code"] for r in a.reasons],
                     "why": "; ".join(why + [r["text"] for r in a.reasons]), "assessed_at": a.assessed_at})
    return rows


def _missing(s: Session, ticket_pks: list[int]) -> dict[int, list[str]]:
    """What the partial assessments lack, from their stored signals."""
    if not ticket_pks:
        return {}
    return {pk: data.get("missing") or [] for pk, data in s.execute(
        select(TicketSignalsRecord.ticket_pk, TicketSignalsRecord.data)
        .where(TicketSignalsRecord.ticket_pk.in_(ticket_pks)))}


def incomplete_because(missing: list[str]) -> str:
    """Why signals are incomplete, each cause once: "history: helpdesk unreachable (connection
    refused) (retrying)" and the same for the requester's other tickets → "helpdesk unreachable
    (connection refused)"."""
    causes = dict.fromkeys(m.removesuffix(" (retrying)").partition(": ")[2] or m for m in missing)
    return "; ".join(causes) or "part of the history could not be read"


def ticket_effort(scope: Scope, rt: Runtime, connector: str, ticket_id: str) -> dict | None:
    """One ticket's signals and its assessment with each reason's weight, or None if there is no
    such ticket in the scope (the read API's /tickets/{connector}/{ticket_id})."""
    with rt.transaction() as s:
        found = s.execute(scope.tickets(
            select(Ticket.id, Ticket.channel, Ticket.status).where(Ticket.connector_id == connector,
                                                                  Ticket.external_id == ticket_id))).first()
        if found is None:
            return None
        signals = s.get(TicketSignalsRecord, found.id)
        a = s.get(AssessmentRecord, found.id)
        assessment = None if a is None else {
            "level": a.level, "index": a.effort_index, "basis": a.basis, "partial": a.partial,
            "model_id": a.model_id, "assessed_at": a.assessed_at,
            "reasons": [{"code": r["code"], "text": r["text"], "weight": r.get("weight")} for r in a.reasons]}
    return {"connector": connector, "ticket_id": ticket_id, "channel": found.channel, "status": found.status,
            "signals": dict(signals.data) if signals else None, "assessment": assessment}

