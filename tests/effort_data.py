"""Synthetic answered tickets with planted drivers: signals drawn at random, a "true" log-odds of a
low answer from known coefficients, and the answer drawn from it. The model's tests check that the
fit finds what was planted."""

from __future__ import annotations

import math
import random
from datetime import datetime

from ces.config.models import EffortSettings
from ces.worker.signals.effort import assessment

# log-odds per unit of each signal (the planted truth); the rest have no effect
PLANTED = {"group_transfers": 1.2, "reopens": 1.0, "repeat_after": 0.9, "first_reply_ratio": 0.35,
           "channel_switch": 0.6}
INTERCEPT = -2.6
CHANNELS = ("email", "email", "email", "chat", "web", "phone")


def signals(rng: random.Random) -> dict:
    channel = rng.choice(CHANNELS)
    target = 7200.0 if channel == "email" else 600.0
    return {
        "group_transfers": rng.choices([0, 1, 2, 3], [70, 18, 8, 4])[0],
        "assignee_transfers": rng.choices([0, 1, 2], [60, 30, 10])[0],
        "group_path": [], "reopens": rng.choices([0, 1, 2], [80, 15, 5])[0],
        "repeat_contacts": rng.choices([0, 1, 2], [75, 20, 5])[0],
        "repeat_after": rng.choices([0, 1], [85, 15])[0],
        "channels": [channel], "channel_switch": rng.random() < 0.1,
        "first_reply_seconds": target * rng.expovariate(1.2), "longest_wait_seconds": target * rng.expovariate(1.0),
        "reply_target_seconds": target, "slow_first_reply": False, "long_wait": False,
        "customer_messages": rng.randint(1, 8), "resolution_seconds": None, "channel": channel, "missing": [],
    }


def true_log_odds(s: dict) -> float:
    ratio = min(s["first_reply_seconds"] / s["reply_target_seconds"], 10.0)
    values = {"group_transfers": s["group_transfers"], "reopens": s["reopens"], "repeat_after": s["repeat_after"],
              "first_reply_ratio": ratio, "channel_switch": 1.0 if s["channel_switch"] else 0.0}
    return INTERCEPT + sum(PLANTED[k] * v for k, v in values.items())


def answered(n: int, seed: int) -> tuple[list[dict], list[bool], list[float]]:
    """n tickets' signals, whether each answered low, and each one's true probability."""
    rng = random.Random(seed)
    rows = [signals(rng) for _ in range(n)]
    truth = [1 / (1 + math.exp(-true_log_odds(s))) for s in rows]
    return rows, [rng.random() < p for p in truth], truth


def fixed_index(s: dict) -> float:
    """Today's fixed weights' index of the signals (what the model is compared with)."""
    s = dict(s, slow_first_reply=s["first_reply_seconds"] > s["reply_target_seconds"],
             long_wait=s["longest_wait_seconds"] > 2 * s["reply_target_seconds"])
    return assessment(s, None, EffortSettings(), window_days=7, many_messages=6)[1]


def plant(rt, rows: list[dict], low: list[bool] | None, *, sent: datetime, first_id: int = 1) -> None:
    """Tickets in the database with these signals, each surveyed at `sent`; answered 2 of 7 when
    low, 6 of 7 when not, silent when `low` is None."""
    from ces.worker.db.models import Answer, AssessmentRecord, Solve
    from ces.worker.demo.history import past_ticket

    with rt.transaction() as s:
        for i, signals in enumerate(rows, start=first_id):
            survey = past_ticket(s, "zendesk-main", str(i), signals, sent, f"t{i}")
            ticket_pk = s.get(Solve, survey.solve_id).ticket_pk
            if low is not None:
                s.add(Answer(survey_id=survey.id, scale="ces7", score=2 if low[i - first_id] else 6, answered_at=sent,
                             updated_at=sent))
            else:  # assessed from its signals by the fixed weights, as collect would have
                s.add(AssessmentRecord(ticket_pk=ticket_pk, survey_id=survey.id, level="low",
                                       effort_index=int(fixed_index(signals)), basis="signals", reasons=[],
                                       reason_codes="", assessed_at=sent))
