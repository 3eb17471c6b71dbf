"""Fits kept in the database (effort_models): each one, adopted or not; the newest adopted one is
the current model."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ces.worker.db.models import EffortModelRecord
from ces.worker.model.data import training_set
from ces.worker.model.effects import effects
from ces.worker.model.scoring import Model


def rules_of(settings):
    from ces.worker.model.fit import Rules  # scikit-learn: imported by a fit only (about a second)

    m = settings.model
    return Rules(min_answers=m.min_answers, min_low=m.min_low, folds=m.folds, target_precision=m.target_precision,
                 regularization=m.regularization)


def fit_and_keep(rt, *, since: datetime | None = None) -> EffortModelRecord:
    """Fit on the window's answers, record the fit and its decision; an adopted fit becomes current."""
    until = rt.now()
    since = since or until - timedelta(days=rt.settings.model.window_days)
    from ces.worker.model.fit import fit  # scikit-learn: imported by a fit only (about a second)

    rules = rules_of(rt.settings)
    with rt.transaction() as s:
        data = training_set(s, rt.settings, since, until)
    result = fit(data.features, data.low, data.fixed_index, rules)
    record = _record(result, rules, since, until, rt.now())
    if result.model is not None:
        record.metrics["effects"] = effects(result.model, data.features, data.labels)
    with rt.transaction() as s:
        s.add(record)
        s.flush()
        s.expunge(record)
    return record


def _record(result, rules, since: datetime, until: datetime, now: datetime) -> EffortModelRecord:
    metrics = None
    if result.learned is not None:
        metrics = {"learned": asdict(result.learned), "fixed": asdict(result.fixed), "precision": result.precision,
                   "recall": result.recall}
    return EffortModelRecord(fitted_at=now, since=since, until=until, answers=result.answers, low=result.low,
                             adopted=result.adopted, why=result.why[:500],
                             model=asdict(result.model) if result.model else None, metrics=metrics, rules=asdict(rules))


def model_of(record: EffortModelRecord) -> Model:
    return Model(**{**record.model, "id": record.id})


def current(s: Session) -> Model | None:
    """The newest adopted fit's model (with its id)."""
    row = s.execute(select(EffortModelRecord.id, EffortModelRecord.model).where(EffortModelRecord.adopted)
                    .order_by(EffortModelRecord.id.desc()).limit(1)).first()
    return Model(**{**row.model, "id": row.id}) if row else None


CACHE_SECONDS = 60.0


def in_use(rt, session: Session | None = None) -> Model | None:
    """The model that scores assessments: the adopted one while `model.use` is on, read at most once
    a minute per process, so an adoption reaches every worker within a minute. Inside a transaction,
    pass its session (SQLite would wait on a second one)."""
    if not rt.settings.model.use:
        return None
    cached = getattr(rt, "effort_model_cache", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > CACHE_SECONDS:
        if session is not None:
            cached = (now, current(session))
        else:
            with rt.transaction() as s:
                cached = (now, current(s))
        rt.effort_model_cache = cached
    return cached[1]


def forget(rt) -> None:
    """After an adoption in this process: the next assessment reads the new model."""
    rt.effort_model_cache = None


def adopted_effects(s: Session) -> tuple[int | None, dict[str, float]]:
    """The adopted model's id and adjusted odds ratios (effects.py; none before a fit kept them)."""
    row = s.execute(select(EffortModelRecord.id, EffortModelRecord.metrics).where(EffortModelRecord.adopted)
                    .order_by(EffortModelRecord.id.desc()).limit(1)).first()
    return (row.id, (row.metrics or {}).get("effects") or {}) if row else (None, {})


def history(s: Session, limit: int = 50) -> list[EffortModelRecord]:
    return list(s.scalars(select(EffortModelRecord).order_by(EffortModelRecord.id.desc()).limit(limit)))


def latest(s: Session) -> EffortModelRecord | None:
    return s.scalars(select(EffortModelRecord).order_by(EffortModelRecord.id.desc()).limit(1)).first()


def adopted_record(s: Session) -> EffortModelRecord | None:
    return s.scalars(select(EffortModelRecord).where(EffortModelRecord.adopted)
                     .order_by(EffortModelRecord.id.desc()).limit(1)).first()
