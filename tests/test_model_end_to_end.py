"""The learned model end to end: a simulated Zendesk solves hundreds of tickets with planted
drivers (tests/helpdesk_effort.py); its signed webhooks reach the served app, the worker's own
functions run what they enqueue (surveys mailed, histories read back from the simulator, signals,
assessments); half the customers answer through the survey form, as the drivers say; `ces model
fit` learns from them; then the silent customers' flags are checked against the planted truth."""

from __future__ import annotations

import random
import time

import pytest
import requests
from sqlalchemy import select

from ces.worker.db.models import AssessmentRecord, Survey, Ticket
from ces.worker.scheduler import tick
from ces.worker.web.app import create_app
from tests.helpdesk_effort import Helpdesk
from tests.support import BROWSER, ServedApp, cli

TICKETS = 600


@pytest.fixture
def served(config, make_rt, zendesk, sink, app_port, monkeypatch):
    # The fixed weights are measured first, then `ces model fit`: no periodic refit in between.
    monkeypatch.setenv("CES_MODEL__REFIT_DAYS", "0")
    # The simulator has no plan's API limit: the connector need not spread its calls over minutes.
    config.write(smtp_port=sink.port, zendesk_url=zendesk.url, extra="rate_limit_per_minute = 1000000\n")
    rt = make_rt()
    zendesk.webhook_url = f"http://127.0.0.1:{app_port}/webhooks/zendesk-main"
    with ServedApp(create_app(rt), app_port) as app:
        yield rt, app


def work(rt, queue) -> None:
    """What the scheduler and the worker do, until nothing is due now."""
    while True:
        tick(rt)
        if not queue.items:
            return
        queue.drain(rt, limit=100_000)


def levels(rt) -> dict[int, str]:
    """Each ticket's level by the simulator's ticket id."""
    with rt.transaction() as s:
        rows = s.execute(select(Ticket.external_id, AssessmentRecord.level)
                         .join(AssessmentRecord, AssessmentRecord.ticket_pk == Ticket.id)).all()
    return {int(external): level for external, level in rows}


def precision_recall(flagged: set[int], truth: set[int]) -> tuple[float, float]:
    hits = len(flagged & truth)
    return hits / max(1, len(flagged)), hits / max(1, len(truth))


# SQLite: the same pipeline, in a third of PostgreSQL's time on a busy machine (about 55 s a seed).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("seed", [1, 2])  # 3 passes as well: precision 1.00, recall 1.00
def test_the_learned_model_flags_the_silent_customers_who_had_a_hard_time(served, queue, zendesk, capsys, seed):
    rt, app = served
    started = time.perf_counter()
    desk = Helpdesk(zendesk, random.Random(seed))
    planted = []
    for i in range(TICKETS):
        planted.append(desk.solve(i))
        if i % 80 == 79:
            work(rt, queue)
    work(rt, queue)
    print(f"\n{TICKETS} tickets solved, mailed and assessed: {time.perf_counter() - started:.1f} s")
    with rt.transaction() as s:
        tokens = {int(t): token for t, token in s.execute(select(Survey.ticket_external_id, Survey.token))}
    assert len(tokens) == TICKETS  # one survey per solve, mailed
    for p in planted:
        if p.answer is not None:  # the customer answers through the form, as a person does
            resp = requests.post(f"{app.url}/s/{tokens[p.ticket_id]}", data={"score": p.answer, "confirm": "1"},
                                 headers=BROWSER, timeout=10)
            assert resp.status_code == 200
    work(rt, queue)
    silent = [p for p in planted if p.answer is None]
    truth = {p.ticket_id for p in silent if p.hard}
    fixed = levels(rt)
    fixed_precision, fixed_recall = precision_recall({p.ticket_id for p in silent if fixed[p.ticket_id] == "high"},
                                                     truth)

    code, out, _ = cli(capsys, "model", "fit")
    assert code == 0 and "\nadopted: better than the fixed weights" in out, out
    learned = levels(rt)
    precision, recall = precision_recall({p.ticket_id for p in silent if learned[p.ticket_id] == "high"}, truth)
    print(f"\nseed {seed}: {len(silent)} silent, {len(truth)} truly hard; fixed weights: precision "
          f"{fixed_precision:.2f} recall {fixed_recall:.2f}; learned: precision {precision:.2f} recall {recall:.2f}; "
          f"{time.perf_counter() - started:.1f} s")
    assert recall >= 0.9 and precision >= 0.8
    assert recall > fixed_recall
