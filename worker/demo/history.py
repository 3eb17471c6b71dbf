"""The demo's past: a few hundred answered surveys from the months before today, so that the
learned effort model has enough answers to learn from (the live tickets are a few dozen).

Written straight into the database as if collected then: each ticket with its signals, its solve
and its survey, sent 35 to 170 days ago (outside the reports' default 30 days, inside the model's
180-day window), and the customer's answer. The answers follow planted drivers — here transfers
between teams, reopens and a slow first reply weigh most, earlier contacts little, and hand-overs
between agents (shift changes) not at all — so the model has something to find that the fixed
weights do not know."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from ces.worker.db.models import Answer, Solve, Survey, Ticket, TicketSignalsRecord

PAST = 400
TARGETS = {"email": 7200.0, "chat": 300.0, "web": 7200.0}
WEIGHTS = {"group_transfers": 1.8, "reopens": 1.6, "slow": 1.7, "repeat_contacts": 0.2, "assignee_transfers": 0.0}
COUNTED = ("group_transfers", "assignee_transfers", "reopens", "repeat_contacts", "repeat_after", "channel_switch",
           "customer_messages")


def past_signals(rng: random.Random) -> dict:
    channel = rng.choice(("email", "email", "chat", "web"))
    target = TARGETS[channel]
    first_reply = target * rng.choice((0.2, 0.5, 0.8, 1.5, 4.0))
    groups = rng.choices([0, 1, 2], [65, 25, 10])[0]
    return {"group_transfers": groups, "assignee_transfers": rng.choices([0, 1, 2, 3], [40, 30, 20, 10])[0],
            "group_path": ["Billing", "Technical Support", "Tier 2"][:groups + 1] if groups else [],
            "reopens": rng.choices([0, 1], [82, 18])[0], "repeat_contacts": rng.choices([0, 1], [80, 20])[0],
            "repeat_after": 0, "channels": [channel], "channel_switch": False, "first_reply_seconds": first_reply,
            "longest_wait_seconds": first_reply, "reply_target_seconds": target,
            "slow_first_reply": first_reply > target, "long_wait": False, "customer_messages": rng.randint(1, 5),
            "resolution_seconds": None, "channel": channel, "missing": []}


def past_answer(rng: random.Random, s: dict) -> int:
    z = -2.8 + sum(WEIGHTS[k] * s[k] for k in ("group_transfers", "reopens", "repeat_contacts",
                                                 "assignee_transfers")) + WEIGHTS["slow"] * s["slow_first_reply"]
    low = rng.random() < 1 / (1 + math.exp(-z))
    return rng.randint(1, 3) if low else rng.choices([4, 5, 6, 7], [1, 3, 4, 4])[0]


def past_ticket(s, connector_id: str, external_id: str, signals: dict, sent: datetime, token: str) -> Survey:
    """A ticket solved and surveyed at `sent`, with these signals (as collect would have stored them)."""
    ticket = Ticket(connector_id=connector_id, external_id=external_id, created_at=sent, updated_at=sent,
                    channel=signals["channel"], last_solved_at=sent)
    s.add(ticket)
    s.flush()
    s.add(TicketSignalsRecord(ticket_pk=ticket.id, computed_at=sent, data=signals,
                              reply_breach=bool(signals["slow_first_reply"] or signals["long_wait"]),
                              **{k: signals[k] for k in COUNTED}))
    solve = Solve(ticket_pk=ticket.id, number=1, solved_at=sent)
    s.add(solve)
    s.flush()
    survey = Survey(solve_id=solve.id, connector_id=connector_id, ticket_external_id=external_id, token=token,
                    scale="ces7", send_after=sent, created_at=sent, sent_at=sent, state="sent")
    s.add(survey)
    s.flush()
    return survey


def plant_history(rt, connector_id: str, rng: random.Random, count: int = PAST) -> int:
    now = rt.now()
    with rt.transaction() as s:
        for i in range(count):
            sent = now - timedelta(days=rng.uniform(35, 170))
            signals = past_signals(rng)
            survey = past_ticket(s, connector_id, f"past-{i + 1}", signals, sent, f"past-{i + 1}")
            s.add(Answer(survey_id=survey.id, scale="ces7", score=past_answer(rng, signals), answered_at=sent,
                         updated_at=sent))
    return count
