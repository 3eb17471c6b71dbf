"""Ticket-level work due at a time (collect signals, re-check, assess), kept as rows, and the
installation's own work (the model's refit), which has no ticket.

schedule() upserts the one job of a kind for a ticket; schedule_alone() adds the one job of a kind
without a ticket unless it is there already; run_job() claims either with a lease, runs the
plain function of its kind and removes it — unless it was scheduled again meanwhile (a new
version), in which case it stays due. Failures are retried by the same decision as everything else.
run_job_of_solve() claims a solved ticket's job of a kind the same way, for a worker that has what
it needs at hand (the send, the ticket it has just read).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, Row, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ces.worker.db.models import Job, JobKind, Solve, Survey
from ces.worker.db.types import UTCDateTime
from ces.worker.logs import error_text
from ces.worker.retry import GiveUp, decide
from ces.worker.runtime import Runtime

log = structlog.get_logger("ces.jobs")
RUN_JOB = "ces.run_job"  # one job (what a scheduler before this version queued; still run)
RUN_JOBS = "ces.run_jobs"  # several jobs due together, one message
# A Celery message costs a worker about as much CPU as a solve's job without its API calls: jobs due
# together go four to a message, so that a burst still spreads over the worker's threads.
JOBS_PER_MESSAGE = 4
# A refit fits and then re-assesses in batches, which can outlast the usual lease: another worker
# would take it while it runs. A worker that died on it is still replaced, a little later.
LEASE_SECONDS = {JobKind.REFIT: 900.0}
# A job of these kinds is due when it was last scheduled for (a later solve moves the re-check, a
# changed answer its alert check); any other kind at the earliest time it was scheduled for.
LATEST_WINS = (JobKind.RECHECK, JobKind.ALERT)


def schedule(s: Session, kind: str, ticket_pk: int, due_at: datetime) -> None:
    """Make the job due at `due_at`: or earlier, if it already was, unless its kind is LATEST_WINS."""
    schedule_all(s, [(kind, ticket_pk, due_at)])


def schedule_all(s: Session, jobs: list[tuple[str, int, datetime]]) -> None:
    """schedule() for several (kind, ticket, due) in one statement (a solve schedules two jobs)."""
    rows = [dict(kind=kind, ticket_pk=ticket_pk, due_at=due_at, next_try_at=due_at, version=1, state="due",
                 attempts=0) for kind, ticket_pk, due_at in jobs]
    s.execute(_scheduling(s.bind.dialect.name).values(rows))


@functools.cache
def _scheduling(dialect_name: str):
    """The conflict clause, built once (scheduling is on the path of every solve)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    jobs = Job.__table__
    ins = dialect.insert(jobs)
    earliest = (func.min if dialect is sqlite else func.least)(jobs.c.due_at, ins.excluded.due_at)
    new_due = case((jobs.c.kind.in_(LATEST_WINS), ins.excluded.due_at), else_=earliest)
    return ins.on_conflict_do_update(index_elements=["kind", "ticket_pk"], set_={
        "due_at": new_due, "next_try_at": new_due, "version": jobs.c.version + 1, "attempts": 0,
        "last_error": None})


def schedule_alone(s: Session, kind: str, due_at: datetime) -> bool:
    """The one job of `kind` with no ticket, due at `due_at`, unless one is there already (due or
    running: it stays as it is). True when this call added it; two schedulers add it once."""
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(Job).values(kind=kind, ticket_pk=None, due_at=due_at, version=1, state="due", attempts=0,
                                     next_try_at=due_at)
    return s.execute(ins.on_conflict_do_nothing(index_elements=["kind"], index_where=Job.ticket_pk.is_(None))
                     .returning(Job.id)).first() is not None


def assess_later(s: Session, survey_id: int, now: datetime) -> None:
    """A survey's answer changed: its ticket is assessed again."""
    ticket_pk = s.scalar(select(Solve.ticket_pk).join(Survey, Survey.solve_id == Solve.id)
                         .where(Survey.id == survey_id))
    if ticket_pk is not None:
        schedule(s, JobKind.ASSESS, ticket_pk, now)


def due_jobs(rt: Runtime, limit: int = 1000) -> list[int]:
    now = rt.now()
    with rt.reading() as s:  # every sweep looks: on SQLite without taking the write lock
        return list(s.scalars(select(Job.id).where(
            Job.due_at <= now, Job.next_try_at <= now,
            or_(Job.state == "due", and_(Job.state == "running", Job.lease_until < now)))
            .order_by(Job.due_at).limit(limit)))


JOBS, SOLVES = Job.__table__, Solve.__table__


def _claiming(*naming_the_job: ColumnElement[bool]):
    """The claim of one job, if it is due: built once, run with parameters (every solve's signals
    job is claimed and removed by these)."""
    now = bindparam("b_now")
    return (update(JOBS).where(*naming_the_job, JOBS.c.due_at <= now, or_(
        JOBS.c.state == "due", and_(JOBS.c.state == "running", JOBS.c.lease_until < now)))
        .values(state="running", attempts=JOBS.c.attempts + 1, lease_until=case(
            *((JOBS.c.kind == kind, bindparam(f"b_lease_{kind}", type_=UTCDateTime)) for kind in LEASE_SECONDS),
            else_=bindparam("b_lease", type_=UTCDateTime)))
        .returning(JOBS.c.id, JOBS.c.kind, JOBS.c.ticket_pk, JOBS.c.version, JOBS.c.attempts))


_CLAIM = _claiming(JOBS.c.id == bindparam("b_id"))
_CLAIM_OF_SOLVE = _claiming(JOBS.c.kind == bindparam("b_kind"), JOBS.c.ticket_pk == select(SOLVES.c.ticket_pk).where(
    SOLVES.c.id == bindparam("b_solve")).scalar_subquery())
_DONE = delete(JOBS).where(JOBS.c.id == bindparam("b_id"), JOBS.c.version == bindparam("b_version"))


def _claim_params(rt: Runtime, now: datetime, **which) -> dict:
    params = {**which, "b_now": now, "b_lease": now + timedelta(seconds=rt.settings.worker.lease_seconds)}
    params.update({f"b_lease_{kind}": now + timedelta(seconds=seconds) for kind, seconds in LEASE_SECONDS.items()})
    return params


def run_job(rt: Runtime, job_id: int, handlers: dict[str, Callable[[Runtime, int | None], str]]) -> str | None:
    now = rt.now()
    with rt.transaction() as s:
        row = s.execute(_CLAIM, _claim_params(rt, now, b_id=job_id)).first()
    return _run(rt, row, handlers) if row else None


def run_job_of_solve(rt: Runtime, kind: str, solve_id: int,
                     handler: Callable[[Runtime, int | None], str]) -> str | None:
    """The solved ticket's job of `kind`, run here and now if it is due (the send runs its
    ticket's signals job with the ticket it has just read): claimed as any worker claims it, so
    that it runs once whoever gets it first; None if it is not due or another worker has it."""
    now = rt.now()
    with rt.transaction() as s:
        row = s.execute(_CLAIM_OF_SOLVE, _claim_params(rt, now, b_kind=kind, b_solve=solve_id)).first()
    return _run(rt, row, {kind: handler}) if row else None


def _run(rt: Runtime, row: Row, handlers: dict[str, Callable[[Runtime, int | None], str]]) -> str:
    """A claimed job run and removed, or its failure recorded for a retry."""
    job_id, kind, ticket_pk, version, attempt = row
    try:
        outcome = handlers[kind](rt, ticket_pk)
    except Exception as exc:
        decision = decide(attempt, exc, rt.settings.worker)
        log.warning("job_failed", job=kind, ticket=ticket_pk, attempt=attempt, error=error_text(exc)[:200],
                    gave_up=isinstance(decision, GiveUp))
        with rt.transaction() as s:
            if isinstance(decision, GiveUp):
                s.execute(delete(Job).where(Job.id == job_id, Job.version == version))
            else:
                when = rt.now() + timedelta(seconds=decision.delay)
                s.execute(update(Job).where(Job.id == job_id, Job.version == version).values(
                    state="due", lease_until=None, due_at=when, next_try_at=when, last_error=error_text(exc)[:500]))
        return "failed" if isinstance(decision, GiveUp) else "retry"
    with rt.transaction() as s:
        done = s.execute(_DONE, {"b_id": job_id, "b_version": version}).rowcount
        if not done:  # scheduled again while running: run once more for the newer fact
            s.execute(update(Job).where(Job.id == job_id).values(state="due", lease_until=None))
    return outcome
