"""Daily rollups: whatever writes the source rows marks the day, the day is recomputed from the rows,
so duplicates, retries, answer changes and rebuilds leave the rollups equal to a recomputation
from scratch."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from ces.worker import rollups
from ces.worker.db.models import DailyRollup, RollupDirty, Survey, Ticket
from ces.worker.signals.rebuild import rebuild
from ces.worker.surveys.answers import record_answer
from tests.pipeline import Clock, mock_history, mock_ticket, receive, surveys
from tests.test_collect import run_due
from tests.test_rebuild_fast import WORKER_CASES, _store, generated

COLUMNS = ("day", *rollups.DIMENSIONS, *rollups.COUNTS)


def _rows(rows) -> list[tuple]:
    return sorted((tuple(r[c] for c in COLUMNS) for r in rows), key=repr)


def stored(rt) -> list[tuple]:
    with rt.transaction() as s:
        return _rows(r._mapping for r in s.execute(select(*(getattr(DailyRollup, c) for c in COLUMNS))))


def from_scratch(rt) -> list[tuple]:
    """What every day's rows are when computed now from the source rows."""
    with rt.transaction() as s:
        days = {rollups.utc_day(a) for a in s.scalars(select(Survey.sent_at).where(Survey.sent_at.isnot(None)))}
        days |= {rollups.utc_day(a) for a in s.scalars(select(Ticket.last_solved_at)
                                                       .where(Ticket.last_solved_at.isnot(None)))}
        return _rows(row for d in days for row in rollups.day_rows(s, d))


def dirty(rt) -> list[date]:
    with rt.transaction() as s:
        return sorted(set(s.scalars(select(RollupDirty.day))))  # a mark per write: a day may be marked twice


@pytest.fixture
def rt(make_rt):
    return make_rt(clock=Clock(datetime(2026, 11, 23, 10, 15, 50, tzinfo=timezone.utc)))


def test_duplicates_retries_and_answer_changes_count_once(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    mock_history(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    receive(rt, "status_changed_solved.json", "inv-1")  # the helpdesk's retry of the same delivery
    run_due(rt, queue)
    token = surveys(rt)[0].token
    record_answer(rt, token, 2, how="form")
    record_answer(rt, token, 2, how="form")  # a double submit
    assert dirty(rt) == [date(2026, 11, 23)], "the answer marked its survey's day"
    run_due(rt, queue)  # the scheduler's tick refreshes the dirty days
    assert dirty(rt) == []
    first = stored(rt)
    assert first == from_scratch(rt)
    (row,) = [r for r in first if r[COLUMNS.index("surveys_sent")]]
    assert row[COLUMNS.index("answers")] == 1 and row[COLUMNS.index("score_2")] == 1

    record_answer(rt, token, 6, how="form")  # the customer changes their mind
    run_due(rt, queue)
    rollups.refresh(rt)
    after = stored(rt)
    assert after == from_scratch(rt)
    (row,) = [r for r in after if r[COLUMNS.index("surveys_sent")]]
    assert (row[COLUMNS.index("answers")], row[COLUMNS.index("score_2")], row[COLUMNS.index("score_6")]) == (1, 0, 1)

    rollups.rebuild_all(rt)  # recomputing again (a retry, a second refresher) changes nothing
    assert stored(rt) == after


@WORKER_CASES
def test_a_rebuild_leaves_the_rollups_equal_to_a_recomputation(make_rt, db_url, workers):
    rt = make_rt()
    tickets = generated(60)
    _store(rt, tickets)
    rollups.refresh(rt)
    assert sum(r[COLUMNS.index("tickets_assessed")] for r in stored(rt)) == 0  # nothing assessed yet
    rebuild(rt, date(2026, 11, 1), batch=25, workers=workers)
    rollups.refresh(rt)
    assert stored(rt) == from_scratch(rt)
    assert sum(r[COLUMNS.index("tickets_assessed")] for r in stored(rt)) == len(tickets)


def test_drivers_are_a_bitmask_of_the_reason_codes():
    mask = rollups.drivers_mask("low_answer,group_transfers,assignee_transfers,long_wait")
    names = [name for i, name in enumerate(rollups.DRIVERS) if mask & (1 << i)]
    assert names == ["transfers", "long_waits"]
    assert rollups.drivers_mask("") == rollups.drivers_mask(None) == 0
