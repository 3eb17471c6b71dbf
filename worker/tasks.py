"""Thin Celery tasks: each carries a row id (or a few) and calls a plain function."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery import Celery

from ces.connectors.models import Ticket
from ces.worker.alerts.send import send_alert
from ces.worker.alerts.trigger import SEND_ALERT, check_answer
from ces.worker.db.models import JobKind
from ces.worker.events import process_event, queue_sends
from ces.worker.health.check import HEALTH_CHECK, run_check
from ces.worker.intake import PROCESS_EVENT, PROCESS_EVENTS
from ces.worker.jobs import RUN_JOB, RUN_JOBS, run_job, run_job_of_solve
from ces.worker.model.refit import refit
from ces.worker.runtime import Runtime, get_runtime
from ces.worker.signals.collect import collect, reassess, recheck
from ces.worker.surveys.create import SEND_SURVEY
from ces.worker.surveys.remind import SEND_REMINDER, send_reminder
from ces.worker.surveys.send import send_survey

# What each kind of job runs (jobs.py): the signals stage, then the alert check, and the model's
# refit (no ticket). Kept here, where the stages meet, so that neither stage needs to know the
# other's functions.
HANDLERS = {JobKind.COLLECT: collect, JobKind.RECHECK: recheck, JobKind.ASSESS: reassess,
            JobKind.ALERT: check_answer, JobKind.REFIT: refit}


def send_then_collect(rt: Runtime, survey_id: int) -> str | None:
    """Send the survey; then its ticket's signals job, if it is still due, with the ticket the send
    read: a solve reads the ticket from the helpdesk once, and its signals need no message of their own."""
    def collect_with(solve_id: int, ticket: Ticket, read_at: datetime) -> None:
        run_job_of_solve(rt, JobKind.COLLECT, solve_id, functools.partial(collect, just_read=(ticket, read_at)))
    return send_survey(rt, survey_id, then=collect_with)


def process_events(rt: Runtime, event_ids: list[int]) -> None:
    """The events, then the surveys they made due: all queued but the last, which this task sends
    itself (a message fewer per solve; no event waits on a send, which comes after them all)."""
    due: list[int] = []
    try:
        for event_id in event_ids:  # each claimed on its own: a redelivered batch does nothing twice
            process_event(rt, event_id, due)
    except BaseException:
        queue_sends(rt, due)  # the surveys of the events done are sent at once all the same
        raise
    queue_sends(rt, due[:-1])
    if due:
        send_then_collect(rt, due[-1])


def process_one_event(rt: Runtime, event_id: int) -> None:
    process_events(rt, [event_id])


def run_jobs(rt: Runtime, job_ids: list[int]) -> None:
    for job_id in job_ids:  # each claimed on its own: a redelivered batch does nothing twice
        run_job(rt, job_id, HANDLERS)


def run_one_job(rt: Runtime, job_id: int) -> None:
    run_job(rt, job_id, HANDLERS)


def health_check(rt: Runtime, _unused: int) -> None:
    run_check(rt)


# Every task by the name its messages carry, and what it runs with the row id(s) they carry; tests
# run the same table in place of a worker.
TASKS: dict[str, Callable[[Runtime, Any], object]] = {
    PROCESS_EVENT: process_one_event, PROCESS_EVENTS: process_events, SEND_SURVEY: send_then_collect,
    SEND_REMINDER: send_reminder, RUN_JOB: run_one_job, RUN_JOBS: run_jobs, HEALTH_CHECK: health_check,
    SEND_ALERT: send_alert}


def register_tasks(app: Celery) -> None:
    for name, run in TASKS.items():
        app.task(name=name)(_task(run))


def _task(run: Callable[[Runtime, Any], object]) -> Callable[[Any], None]:
    def task(row_id: Any) -> None:
        run(get_runtime(), row_id)
    return task
