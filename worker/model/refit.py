"""The periodic refit (model.refit_days): the scheduler queues it as a job without a ticket, a
worker runs it — never inside a sweep, since a fit takes seconds to minutes.

It fits under the same rule as `ces model fit` and, when the fit is adopted, re-assesses the silent
tickets (adopt.py: in batches that save how far they got). A refit whose worker died is taken again
once its lease expires; finding the fit it made already there, it does not fit twice but resumes
the re-assessment."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from ces.worker.db.models import EffortModelRecord, JobKind
from ces.worker.jobs import schedule_alone
from ces.worker.model import store
from ces.worker.model.adopt import apply
from ces.worker.model.data import has_answers


def _fitted_lately(s, rt) -> bool:
    days = rt.settings.model.refit_days
    last = s.scalar(select(func.max(EffortModelRecord.fitted_at)))
    return bool(days) and last is not None and last > rt.now() - timedelta(days=days)


def queue_refit(rt) -> int:
    """1 when this sweep queued the refit: on, none queued yet, no fit within model.refit_days, and
    answers enough for a fit (a new installation loads no scikit-learn for a fit that must refuse)."""
    m = rt.settings.model
    if not m.refit_days:
        return 0
    now = rt.now()
    with rt.transaction() as s:
        if _fitted_lately(s, rt) or not has_answers(s, now - timedelta(days=m.window_days), now, m.min_answers):
            return 0
        return int(schedule_alone(s, JobKind.REFIT, now))


def refit(rt, _ticket_pk: None = None) -> str:
    """The job: fit (unless a run of it already did, lately), and after an adoption re-assess."""
    with rt.transaction() as s:
        record = store.latest(s) if _fitted_lately(s, rt) else None
    if record is None:
        record = store.fit_and_keep(rt)
    count = apply(rt, record)
    return f"fit {record.id} not adopted: {record.why}" if count is None else \
        f"fit {record.id} adopted; re-assessed {count} tickets"
