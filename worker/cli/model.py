"""`ces model`: fit the learned effort model, show the one in use and how it compares, the history."""

from __future__ import annotations

import math
from datetime import datetime, time, timezone
from enum import Enum
from typing import Optional

import typer

from ces.worker.cli.common import FORMAT, Format, runtime
from ces.worker.model import store
from ces.worker.model.adopt import apply
from ces.worker.model.data import response_profile
from ces.worker.queries.formats import render, table, to_json

model_app = typer.Typer(no_args_is_help=True, help="The learned effort model: fit, show, history.")


def _since(value: Optional[str]) -> Optional[datetime]:
    if value is None:
        return None
    try:
        return datetime.combine(datetime.fromisoformat(value).date(), time.min, tzinfo=timezone.utc)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-01-31", param_hint="--since") from None


def _auc(metrics: dict | None, which: str) -> str:
    value = metrics and metrics[which]["auc"]
    return f"{value:.3f}" if value is not None else "-"


def summary(record) -> list[str]:
    m = record.metrics
    lines = [f"fit {record.id} of {record.fitted_at:%Y-%m-%d %H:%M} UTC on surveys sent {record.since:%Y-%m-%d} to "
             f"{record.until:%Y-%m-%d}: {record.answers} answers, {record.low} low",
             f"{'adopted' if record.adopted else 'not adopted'}: {record.why}"]
    if m:
        lines.append(f"held out: AUC {_auc(m, 'learned')} (fixed weights {_auc(m, 'fixed')}), Brier "
                     f"{m['learned']['brier']:.3f} (fixed weights {m['fixed']['brier']:.3f})")
    model = record.model
    if model and model["high_at"] is not None:
        lines.append(f"high effort from a probability of {model['high_at']:.2f} (held out: precision "
                     f"{m['precision']:.2f}, recall {m['recall']:.2f}); medium from {model['medium_at']:.2f}")
    elif model:
        lines.append("no probability reaches the target precision: silent tickets are at most medium")
    return lines


@model_app.command("fit")
def fit_cmd(since: Optional[str] = typer.Option(None, help="first day of surveys sent (default: model.window_days ago)")):
    """Fit on the answers, compare with the fixed weights on the same folds, adopt only if better."""
    rt = runtime(quiet=True)
    record = store.fit_and_keep(rt, since=_since(since))
    typer.echo("\n".join(summary(record)))
    count = apply(rt, record)
    if count is not None:
        typer.echo(f"re-assessed {count} tickets flagged by their signals alone, solved since {record.since:%Y-%m-%d}")


def _coefficients(model: dict) -> list[dict]:
    rows = [{"feature": name, "coefficient": round(c, 3), "odds_ratio": round(math.exp(c), 2)}
            for name, c in zip(model["features"], model["coefficients"])]
    return sorted(rows, key=lambda r: -abs(r["coefficient"]))


class ShowFormat(str, Enum):
    table = "table"
    json = "json"


@model_app.command("show")
def show(fmt: ShowFormat = typer.Option(ShowFormat.table, "--format", help="table or json")):
    """The model in use, how it compares with the fixed weights, and whether the answers represent
    the silent customers (the share with each signal among those who answered and those who did not)."""
    rt = runtime(quiet=True)
    with rt.transaction() as s:
        in_use, last = store.adopted_record(s), store.latest(s)
        since = (in_use or last).since if (in_use or last) else rt.now()
        profile = response_profile(s, since, rt.now())
    if fmt == "json":
        typer.echo(to_json({"in_use": _as_json(in_use), "latest": _as_json(last), "profile": profile}))
        return
    typer.echo("\n".join(_show_lines(in_use, last, profile)))


def _as_json(record) -> dict | None:
    if record is None:
        return None
    return {c: getattr(record, c) for c in ("id", "fitted_at", "since", "until", "answers", "low", "adopted", "why",
                                           "model", "metrics", "rules")}


def _show_lines(in_use, last, profile) -> list[str]:
    if in_use is None:
        lines = ["adopted: none yet (the fixed weights of [effort] are all there is)"]
    else:
        lines = ["adopted model:"]
        lines += summary(in_use) + ["", table(_coefficients(in_use.model), ["feature", "coefficient",
                                                                                    "odds_ratio"])]
    if last is not None and (in_use is None or last.id != in_use.id):
        lines += ["", "latest fit:"] + summary(last)
    lines += ["", f"signals among the surveyed: {profile['answered']} answered, {profile['silent']} did not",
              table(profile["signals"], ["signal", "answered", "silent"])]
    return lines


@model_app.command("history")
def history_cmd(fmt: Format = FORMAT):
    """Every fit, newest first: when, on how many answers, how it scored, adopted or why not."""
    rt = runtime(quiet=True)
    with rt.transaction() as s:
        rows = [dict(id=r.id, fitted_at=r.fitted_at, answers=r.answers, low=r.low, auc=_auc(r.metrics, "learned"),
                     fixed_auc=_auc(r.metrics, "fixed"), adopted=r.adopted, why=r.why) for r in store.history(s)]
    typer.echo(render(rows, ["id", "fitted_at", "answers", "low", "auc", "fixed_auc", "adopted", "why"], fmt))
