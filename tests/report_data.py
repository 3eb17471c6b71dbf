"""A small, known set of tickets, surveys, answers and assessments for the report pages' tests:
two teams, three agents, answered and signal-only high-effort tickets, in November 2026."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from ces.worker.db.models import Answer, AssessmentRecord, Ticket
from tests.planted import solved_and_surveyed

SINCE, UNTIL = date(2026, 11, 2), date(2026, 11, 30)  # [since, until): four weeks from a Monday
BEFORE = date(2026, 10, 20)  # in the period before

# (team, agent, e-mail, scores (None: not answered)), spread over the range
AGENTS = [
    ("Billing", "Amy Agent", "amy@acme.test", [7, 6, 5, 5, 7, 3, 2, 6, 7, 5, 4, 6]),
    ("Billing", "Bob Agent", "Bob@Acme.test", [2, 3, None]),
    ("Returns", "Cy Agent", "cy@acme.test", [7, 7, 6, 1, None]),
]
SIGNAL_ONLY = [("Billing", "group_transfers,long_wait"), ("Billing", "reopened"), ("Returns", "channel_switch")]


def _ticket(s, n: int, team: str, agent: str | None, at: datetime) -> Ticket:
    t = Ticket(connector_id="zendesk-main", external_id=str(n), solve_count=1, reopen_count=0, created_at=at,
               updated_at=at, last_solved_at=at, group_name=team, assignee=agent, channel="email")
    s.add(t)
    s.flush()
    return t


def _assess(s, t: Ticket, at: datetime, level: str, basis: str, codes: str, survey_id: int | None) -> None:
    s.add(AssessmentRecord(ticket_pk=t.id, survey_id=survey_id, level=level, effort_index=80 if level == "high" else 20,
                           basis=basis, partial=False, reasons=[], reason_codes=codes, assessed_at=at))


def seed(rt, start: date = SINCE) -> None:
    n = 0
    with rt.transaction() as s:
        for team, agent, email, scores in AGENTS:
            for i, score in enumerate(scores):
                n += 1
                at = datetime.combine(start + timedelta(days=(n * 2) % 27), datetime.min.time(),
                                      tzinfo=timezone.utc) + timedelta(hours=10)
                t = _ticket(s, n, team, agent, at)
                v = solved_and_surveyed(s, t, at, token=f"tok{n}", state="sent", scale="ces7", send_after=at,
                                        created_at=at, sent_at=at, channel="email", attempts=1, group_name=team,
                                        assignee=agent, assignee_email=email, locale="es" if i % 3 == 0 else "en")
                if score is not None:
                    s.add(Answer(survey_id=v.id, scale="ces7", score=score, answered_at=at, updated_at=at))
                low = score is not None and score <= 3
                _assess(s, t, at, "high" if low else "low", "survey" if score is not None else "signals",
                        "low_answer,group_transfers" if low else "", v.id)
        for team, codes in SIGNAL_ONLY:
            n += 1
            at = datetime.combine(start + timedelta(days=n % 27), datetime.min.time(), tzinfo=timezone.utc)
            _assess(s, _ticket(s, n, team, None, at), at, "high", "signals", codes, None)
        # one answered survey in the period before, for the changes
        n += 1
        at = datetime.combine(BEFORE, datetime.min.time(), tzinfo=timezone.utc)
        t = _ticket(s, n, "Billing", "Amy Agent", at)
        v = solved_and_surveyed(s, t, at, token=f"tok{n}", state="sent", scale="ces7", send_after=at, created_at=at,
                                sent_at=at, channel="email", attempts=1, group_name="Billing", assignee="Amy Agent",
                                assignee_email="amy@acme.test", locale="en")
        s.add(Answer(survey_id=v.id, scale="ces7", score=2, answered_at=at, updated_at=at))
