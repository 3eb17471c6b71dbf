"""The periodic refit: queued by the scheduler as a job without a ticket (once, however many
schedulers sweep), run by a worker, adopted under the same rule as `ces model fit`, followed by the
re-assessment of the silent tickets; a refit whose worker died is taken again, and does not fit twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ces.worker import scheduler
from ces.worker.db.models import AssessmentRecord, EffortModelRecord, Job, JobKind
from ces.worker.jobs import RUN_JOBS, run_job
from ces.worker.model import store
from ces.worker.model.refit import queue_refit, refit
from ces.worker.scheduler import tick
from ces.worker.tasks import HANDLERS
from tests.effort_data import answered, plant
from tests.pipeline import Clock


def planted(rt, clock) -> None:
    rows, low, _ = answered(700, 21)
    plant(rt, rows[:600], low[:600], sent=clock.now - timedelta(days=3))
    plant(rt, rows[600:], None, sent=clock.now - timedelta(days=3), first_id=601)  # silent


def refit_jobs(rt) -> list[Job]:
    with rt.transaction() as s:
        return list(s.scalars(select(Job).where(Job.kind == JobKind.REFIT)))


def fits(rt) -> int:
    with rt.transaction() as s:
        return s.scalar(select(func.count()).select_from(EffortModelRecord))


def scored_by_model(rt) -> int:
    with rt.transaction() as s:
        return s.scalar(select(func.count()).select_from(AssessmentRecord).where(AssessmentRecord.model_id.is_not(None)))


def test_two_schedulers_sweeping_at_once_queue_the_refit_once(make_rt):
    clock = Clock()
    runtimes = [make_rt(clock=clock), make_rt(clock=clock)]
    planted(runtimes[0], clock)
    start = threading.Barrier(2)
    added = []

    def sweep(rt):
        start.wait()
        added.append(queue_refit(rt))

    threads = [threading.Thread(target=sweep, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(added) == [0, 1]
    [job] = refit_jobs(runtimes[0])
    assert job.ticket_pk is None and job.state == "due"
    assert tick(runtimes[1])["refits"] == 0 and len(refit_jobs(runtimes[0])) == 1


def test_the_refit_runs_as_a_worker_job_adopts_and_reassesses_then_waits_its_interval(make_rt, queue):
    clock = Clock()
    rt = make_rt(clock=clock)
    planted(rt, clock)
    done = tick(rt)
    assert done["refits"] == 1 and done["jobs"] == 1
    [(task, [job_id])] = [item for item in queue.items if item[0] == RUN_JOBS]
    assert fits(rt) == 0  # the sweep only queued it: the worker fits
    queue.drain(rt)
    assert refit_jobs(rt) == [] and fits(rt) == 1
    with rt.transaction() as s:
        assert store.current(s) is not None
    assert scored_by_model(rt) == 100  # every silent ticket re-assessed by the adopted model
    clock.advance(6 * 86400)
    assert tick(rt)["refits"] == 0  # fitted within model.refit_days (7)
    clock.advance(2 * 86400)
    assert tick(rt)["refits"] == 1


def test_a_refit_whose_worker_died_is_taken_again_and_does_not_fit_twice(make_rt, queue):
    clock = Clock()
    rt = make_rt(clock=clock)
    planted(rt, clock)
    queue_refit(rt)
    [job] = refit_jobs(rt)

    def dies_after_the_fit(rt, ticket_pk):
        store.fit_and_keep(rt)
        raise KeyboardInterrupt  # the process is killed: nothing records the failure

    with pytest.raises(KeyboardInterrupt):
        run_job(rt, job.id, {JobKind.REFIT: dies_after_the_fit})
    assert refit_jobs(rt)[0].state == "running" and fits(rt) == 1 and scored_by_model(rt) == 0
    clock.advance(60)
    assert run_job(rt, job.id, HANDLERS) is None  # leased: nobody else takes it meanwhile
    clock.advance(900)
    assert tick(rt)["jobs"] == 1  # the lease expired: the sweep hands it out again
    assert run_job(rt, job.id, HANDLERS).endswith("re-assessed 100 tickets")
    assert fits(rt) == 1 and scored_by_model(rt) == 100 and refit_jobs(rt) == []


def test_the_off_switch_queues_nothing_and_a_refit_not_better_keeps_the_fixed_weights(config, make_rt, monkeypatch):
    monkeypatch.setenv("CES_MODEL__REFIT_DAYS", "0")
    rt = make_rt()
    assert queue_refit(rt) == 0 and refit_jobs(rt) == []
    monkeypatch.setenv("CES_MODEL__REFIT_DAYS", "7")
    rt = make_rt()
    assert queue_refit(rt) == 0 and refit_jobs(rt) == []  # no answers yet: nothing a fit could adopt
    assert refit(rt).startswith("fit 1 not adopted: too few answers: 0 answers")
    with rt.transaction() as s:
        assert store.current(s) is None


def test_sweeps_look_for_a_due_refit_once_a_minute_and_the_first_sweep_at_once(make_rt, monkeypatch):
    clock = Clock()
    rt = make_rt(clock=clock)
    looked = []
    monkeypatch.setattr(scheduler, "queue_refit", lambda rt: looked.append(rt.now()) or 0)
    tick(rt)
    clock.advance(scheduler.REFIT_CHECK_SECONDS - 1)
    tick(rt)
    assert len(looked) == 1  # the first sweep looked; the next, within the minute, did not
    clock.advance(1)
    tick(rt)
    assert looked == [clock.now - timedelta(seconds=scheduler.REFIT_CHECK_SECONDS), clock.now]
    assert tick(make_rt(clock=clock))["refits"] == 0 and len(looked) == 3  # another scheduler looks at once
