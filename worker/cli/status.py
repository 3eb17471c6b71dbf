"""`ces status`: the admin page's health in the terminal (exit 1 when something is failing)."""

from __future__ import annotations

import typer

from ces.worker.cli.common import Format, runtime
from ces.worker.health import rules
from ces.worker.health.report import health
from ces.worker.queries.formats import render, to_json

STATUS_FORMAT = typer.Option(Format.table, "--format", help="table, json or csv")


def lines(report: dict) -> list[dict]:
    """One row per finding, and one per component that has none (state ok)."""
    rows = []
    for c in report["components"]:
        for f in c["findings"] or [dict(state=c["state"], cause="", fix="")]:
            rows.append(dict(component=c["name"], state=f["state"], cause=f["cause"], fix=f["fix"]))
    return rows


def status_cmd(fmt: Format = STATUS_FORMAT):
    """Health of connectors, SMTP, worker, scheduler and Redis: state, cause, fix."""
    rt = runtime(quiet=True)  # no database (or one behind): one line and exit 1, as every command
    report = health(rt)
    if fmt == Format.json:
        typer.echo(to_json(report))
    else:
        typer.echo(render(lines(report), ["component", "state", "cause", "fix"], fmt.value))
        typer.echo(f"overall: {report['state']} (checked {rules.when(report['checked_at'])})")
    if report["state"] == rules.FAILING:
        raise typer.Exit(1)
