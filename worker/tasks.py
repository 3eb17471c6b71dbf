"""Thin Celery tasks: each carries one row id and calls a plain function."""

from __future__ import annotations

from celery import Celery

from ces.worker.alerts.send import send_alert
from ces.worker.alerts.trigger import check_answer
from ces.worker.db.models import JobKind
from ces.worker.events import process_event
from ces.worker.health.check import run_check
from ces.worker.jobs import run_job
from ces.worker.model.refit import refit
from ces.worker.runtime import get_runtime
from ces.worker.signals.collect import collect, reassess, recheck
from ces.worker.surveys.remind import send_reminder
from ces.worker.surveys.send import send_survey

# What each kind of job runs (jobs.py): the signals stage, then the alert check, and the model's
# refit (no ticket). Kept here, where the stages meet, so that neither stage needs to know the
# other's functions.
HANDLERS = {JobKind.COLLECT: collect, JobKind.RECHECK: recheck, JobKind.ASSESS: reassess,
            JobKind.ALERT: check_answer, JobKind.REFIT: refit}


def register_tasks(app: Celery) -> None:
    @app.task(name="ces.process_event")
    def process_event_task(event_id: int) -> None:
        process_event(get_runtime(), event_id)

    @app.task(name="ces.process_events")
    def process_events_task(event_ids: list[int]) -> None:
        rt = get_runtime()
        for event_id in event_ids:  # each claimed on its own: a redelivered batch does nothing twice
            process_event(rt, event_id)

    @app.task(name="ces.send_survey")
    def send_survey_task(survey_id: int) -> None:
        send_survey(get_runtime(), survey_id)

    @app.task(name="ces.send_reminder")
    def send_reminder_task(survey_id: int) -> None:
        send_reminder(get_runtime(), survey_id)

    @app.task(name="ces.run_job")
    def run_job_task(job_id: int) -> None:
        run_job(get_runtime(), job_id, HANDLERS)

    @app.task(name="ces.run_jobs")
    def run_jobs_task(job_ids: list[int]) -> None:
        rt = get_runtime()
        for job_id in job_ids:  # each claimed on its own: a redelivered batch does nothing twice
            run_job(rt, job_id, HANDLERS)

    @app.task(name="ces.health_check")
    def health_check_task(_unused: int) -> None:
        run_check(get_runtime())

    @app.task(name="ces.send_alert")
    def send_alert_task(alert_id: int) -> None:
        send_alert(get_runtime(), alert_id)
