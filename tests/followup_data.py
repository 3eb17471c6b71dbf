"""A few follow-up cases and the tickets behind them, stored as the pipeline leaves them (history,
signals, assessment, survey, answer history, alerts with their links): what the follow-up queue and
the ticket page show, for their tests.

- #1001 (Billing, agent Amy): transferred from Tier 1, a slow reply, reopened, came back with #1000
  before; answered 2 with a comment, then 3; alerted by e-mail to the lead.
- #2002 (Billing, agent Bob): answered 1; opened long ago, so overdue.
- #3003 (Returns): no answer, flagged by its signals alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ces.worker.alerts.followup import case, links
from ces.worker.db.models import (
    Alert,
    Answer,
    AnswerHistory,
    AssessmentRecord,
    Ticket,
    TicketHistoryRecord,
    TicketSignalsRecord,
)
from tests.planted import solved_and_surveyed

NOW = datetime(2026, 12, 2, 15, tzinfo=timezone.utc)  # a Wednesday
COMMENT = "لم يتصل بي أحد <b>مرة أخرى</b>"  # "nobody called me back", with markup that must stay text
LEAD = "lee@acme.test"


def _at(hours: float) -> str:
    return (NOW - timedelta(hours=hours)).isoformat()


HISTORY_1001 = [
    {"at": _at(60), "kind": "group", "actor": "system", "value": "Tier 1"},
    {"at": _at(60), "kind": "assignee", "actor": "system", "value": "Tom Tier"},
    {"at": _at(60), "kind": "message", "actor": "customer", "channel": "email"},
    {"at": _at(50), "kind": "group", "actor": "agent", "value": "Billing"},
    {"at": _at(50), "kind": "assignee", "actor": "agent", "value": "Amy Agent"},
    {"at": _at(26), "kind": "message", "actor": "agent", "channel": "email"},
    {"at": _at(25), "kind": "status", "actor": "agent", "value": "solved", "previous": "open"},
    {"at": _at(24), "kind": "message", "actor": "customer", "channel": "chat"},
    {"at": _at(24), "kind": "status", "actor": "customer", "value": "open", "previous": "solved"},
    {"at": _at(23.5), "kind": "message", "actor": "agent", "channel": "email"},
    {"at": _at(23), "kind": "status", "actor": "agent", "value": "solved", "previous": "open"},
]
REASONS_1001 = [{"code": "group_transfers", "text": "transferred between teams once (Tier 1 → Billing)"},
                {"code": "reopened", "text": "reopened once"},
                {"code": "reply_delay", "text": "first reply after 1 d 10 h (target 24 h)"}]


def _ticket(s, external: str, team: str, *, opened_hours: float, channel: str = "email", url: bool = True) -> Ticket:
    ticket = Ticket(connector_id="zendesk-main", external_id=external, created_at=NOW - timedelta(hours=opened_hours),
                    updated_at=NOW, opened_at=NOW - timedelta(hours=opened_hours), channel=channel, group_name=team,
                    status="solved", last_solved_at=NOW - timedelta(hours=23), solve_count=1,
                    ticket_url=f"https://acme.zendesk.com/agent/tickets/{external}" if url else None)
    s.add(ticket)
    s.flush()
    return ticket


def _surveyed(s, ticket: Ticket, agent: str, agent_email: str, answers: list[tuple[str, int, str | None, float]]):
    solved = NOW - timedelta(hours=23)
    survey = solved_and_surveyed(s, ticket, solved, token=f"survey-token-{ticket.external_id}", scale="ces7",
                                 state="sent", send_after=solved, created_at=solved, sent_at=solved, assignee=agent,
                                 assignee_email=agent_email, group_name=ticket.group_name, channel=ticket.channel,
                                 email="customer@example.test", name="Cara Customer")
    for kind, score, comment, hours in answers:
        s.add(AnswerHistory(survey_id=survey.id, kind=kind, scale="ces7", score=score, comment=comment,
                            at=NOW - timedelta(hours=hours), how="form"))
    kind, score, comment, hours = answers[-1]
    s.add(Answer(survey_id=survey.id, scale="ces7", score=score, comment=comment,
                 answered_at=NOW - timedelta(hours=answers[0][3]), updated_at=NOW - timedelta(hours=hours)))
    return survey


def _assessed(s, ticket: Ticket, survey_id, index: int, reasons: list[dict], basis: str = "survey") -> None:
    s.add(AssessmentRecord(ticket_pk=ticket.id, survey_id=survey_id, level="high", effort_index=index, basis=basis,
                           reasons=reasons, reason_codes=",".join(r["code"] for r in reasons), assessed_at=NOW))


def _alerted(s, rt, item, recipient: str, content: dict, at: datetime) -> dict[str, str]:
    found = links(s, rt, item.id, recipient, at)
    s.add(Alert(dedupe_key=f"alert:{item.key}:lead-mail:{recipient}", kind="alert", route="lead-mail",
                route_type="email", recipient=recipient, follow_up_id=item.id, content={**content, "links": found},
                state="sent", created_at=at, sent_at=at))
    return found


def seed(rt) -> dict:
    """The three tickets and their cases; returns their ids and the alert links, by ticket."""
    out: dict = {}
    with rt.transaction() as s:
        before = _ticket(s, "1000", "Billing", opened_hours=24 * 5)
        t1 = _ticket(s, "1001", "Billing", opened_hours=60)
        s.add(TicketHistoryRecord(ticket_pk=t1.id, fetched_at=NOW, history={"ticket": {}, "entries": HISTORY_1001},
                                  contacts=[{"connector": "zendesk-main", "id": "1000", "created_at": _at(24 * 5),
                                             "channel": "chat"}]))
        s.add(TicketSignalsRecord(ticket_pk=t1.id, computed_at=NOW, group_transfers=1, reopens=1, repeat_contacts=1,
                                  reply_breach=True, data={"reply_target_seconds": 86400}))
        s1 = _surveyed(s, t1, "Amy Agent", "amy@acme.test", [("answered", 2, COMMENT, 22), ("score", 3, None, 21)])
        _assessed(s, t1, s1.id, 70, REASONS_1001)
        c1 = case(s, key=f"survey:{s1.id}", ticket_pk=t1.id, survey_id=s1.id, connector_id="zendesk-main",
                  team="Billing", agent="Amy Agent", now=NOW - timedelta(hours=21))
        l1 = _alerted(s, rt, c1, LEAD, {"kind": "alert", "ticket_id": "1001", "score": 3, "points": 7,
                                        "label": "Somewhat disagree", "scale": "ces7", "comment": None,
                                        "customer": {"name": "Cara Customer"}}, NOW - timedelta(hours=21))

        t2 = _ticket(s, "2002", "Billing", opened_hours=24 * 8)
        s2 = _surveyed(s, t2, "Bob Agent", "bob@acme.test", [("answered", 1, "Never again.", 24 * 6)])
        _assessed(s, t2, s2.id, 40, [{"code": "low_answer", "text": "answered 1 of 7"}])
        c2 = case(s, key=f"survey:{s2.id}", ticket_pk=t2.id, survey_id=s2.id, connector_id="zendesk-main",
                  team="Billing", agent="Bob Agent", now=NOW - timedelta(days=6))
        l2 = _alerted(s, rt, c2, LEAD, {"kind": "alert", "ticket_id": "2002", "score": 1, "points": 7,
                                        "label": "Strongly disagree", "scale": "ces7", "comment": "Never again.",
                                        "customer": {"name": "Dan"}}, NOW - timedelta(days=6))

        t3 = _ticket(s, "3003", "Returns", opened_hours=30, channel="chat", url=False)
        _assessed(s, t3, None, 55, [{"code": "repeat_contact", "text": "contacted us 2 times before"}], "signals")
        c3 = case(s, key=f"ticket:{t3.id}", ticket_pk=t3.id, survey_id=None, connector_id="zendesk-main",
                  team="Returns", agent=None, now=NOW - timedelta(hours=2))
        out = {"1000": {"ticket": before.id},
               "1001": {"ticket": t1.id, "case": c1.id, "links": l1},
               "2002": {"ticket": t2.id, "case": c2.id, "links": l2},
               "3003": {"ticket": t3.id, "case": c3.id}}
    return out


def token(url: str) -> str:
    return url.rsplit("/a/", 1)[1]
