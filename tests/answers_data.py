"""Answered surveys planted straight in the database, for the pages and the API that list answers:
eight answers in two teams, two agents, five languages and both scales."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from ces.worker.db.models import Answer, AnswerState, Ticket
from tests.planted import solved_and_surveyed

DAY = date(2026, 11, 20)
SENT = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
RANGE = dict(since=DAY - timedelta(days=1), until=DAY + timedelta(days=1))
# ticket: (team, agent e-mail, agent name, language, scale, score, comment)
ANSWERS = {
    "101": ("Billing", "amy@acme.test", "Amy", "en", "ces7", 2, "I had to explain it THREE times"),
    "102": ("Billing", "bob@acme.test", "Bob", "ja", "ces7", 3, "何度も待たされました。三回も説明しました"),
    "103": ("Returns", "amy@acme.test", "Amy", "ko", "ces7", 6, "빠르게 해결해 주셔서 감사합니다"),
    "104": ("Returns", "bob@acme.test", "Bob", "ar", "effort5", 5, "انتظرت طويلا جدا"),
    "105": ("Billing", "amy@acme.test", "Amy", "de", "ces7", 7, "100% zufrieden, danke"),
    "106": ("Billing", "amy@acme.test", "Amy", "en", "ces7", 1, "=HYPERLINK(\"https://evil.example\",\"x\")"),
    "107": ("Returns", "bob@acme.test", "Bob", "en", "ces7", 4, None),
    "108": ("Billing", "bob@acme.test", "Bob", "en", "ces7", 5, "<script>alert('x')</script> fine"),
}


def plant(rt, external: str, team, agent_email, agent, language, scale, score, comment, *, sent=SENT,
          state=AnswerState.CONFIRMED):
    with rt.transaction() as s:
        ticket = Ticket(connector_id="zendesk-main", external_id=external, created_at=sent, updated_at=sent,
                        group_name=team)
        s.add(ticket)
        s.flush()
        survey = solved_and_surveyed(s, ticket, sent, token=f"token-{external}", scale=scale, locale=language,
                                     send_after=sent, created_at=sent, sent_at=sent, group_name=team, assignee=agent,
                                     assignee_email=agent_email, channel="email", state="sent")
        answered = sent + timedelta(minutes=int(external))
        s.add(Answer(survey_id=survey.id, scale=scale, score=score, comment=comment, answered_at=answered,
                     updated_at=answered, state=state))
        return ticket.id
