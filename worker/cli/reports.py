"""`ces report` (CES by cohort, by signal, or the alerts' follow-up) and `ces flags` (high-effort
tickets): the numbers come from worker/queries, over everything (the CLI is an admin's)."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from ces.worker.cli.common import FORMAT, LIMIT, Format, ScaleChoice, date_range, out, parse_date, runtime
from ces.worker.queries.flags import flags
from ces.worker.queries.formats import render, table
from ces.worker.queries.reports import GROUPS, ces_report, follow_up_report, signal_report
from ces.worker.queries.scope import Scope
from ces.worker.signals.effort import duration

By = Enum("By", {key: key for key in (*GROUPS, "signal")}, type=str)
Level = Enum("Level", {key: key for key in ("high", "medium", "low", "all")}, type=str)


def report(since: Optional[str] = typer.Option(None, help="first day, UTC (default: the last 30 days, today included)"),
           until: Optional[str] = typer.Option(None, help="day after the last, UTC, exclusive (default: tomorrow)"),
           scale: ScaleChoice = typer.Option("ces7", help="ces7 or effort5 (never mixed)"),
           by: Optional[By] = typer.Option(None, help="connector, channel, group, agent, week or signal"),
           follow_up: bool = typer.Option(False, "--follow-up", help="time to acknowledge alerts, share followed up"),
           days: Optional[int] = typer.Option(None, min=1, help="with --follow-up: followed up within this many business "
                                              "days, Mon-Fri in alerts.timezone (default alerts.follow_up_business_days)"),
           fmt: Format = FORMAT):
    """Surveys sent, responses, response rate, CES (share of 5-7) and mean."""
    d_since, d_until = date_range(since, until)
    rt = runtime()
    scale, by = ScaleChoice(scale).value, (By(by).value if by else None)
    if follow_up:
        out(_follow_up(follow_up_report(Scope.everything(), rt, d_since, d_until, days=days), fmt))
    elif by == "signal":
        out(_by_signal(signal_report(Scope.everything(), rt, d_since, d_until, scale=scale), fmt))
    else:
        result = ces_report(Scope.everything(), rt, d_since, d_until, scale=scale, by=by)
        columns = ([by] if by else []) + ["surveys_sent", "responses", "response_rate", "ces", "mean"]
        text = render(result["rows"], columns, fmt.value, json_obj=result)
        if fmt == Format.table:
            text = f"CES report {result['since']} to {result['until']} (exclusive), scale {scale}\n{text}"
        out(text)


def _follow_up(result: dict, fmt: Format) -> str:
    rows = [dict(r, time_to_acknowledge=duration(r["median_seconds_to_acknowledge"])
                 if r["median_seconds_to_acknowledge"] is not None else None) for r in result["rows"]]
    columns = ["team", "agent", "alerts", "acknowledged", "median_seconds_to_acknowledge", "followed_up",
               "followed_up_within_days"]
    if fmt != Format.table:
        return render(rows, columns, fmt.value, json_obj=result)
    columns[4] = "time_to_acknowledge"
    return (f"Follow-up of alerts opened {result['since']} to {result['until']} (exclusive); "
            f"followed up within {result['days']} business days\n" + table(rows, columns))


def _by_signal(result: dict, fmt: Format) -> str:
    columns = ["signal", "value", "surveys_sent", "responses", "response_rate", "ces", "mean", "high_effort",
               "high_effort_share", "cost", "cost_low", "cost_high", "odds_ratio"]
    text = render(result["rows"], columns, fmt.value, json_obj=result)
    if fmt == Format.table:
        model = (f"odds_ratio: the adjusted effect by model {result['model_id']} (the others held fixed)"
                 if result["model_id"] else "odds_ratio: none until a model is adopted (ces model fit)")
        text = (f"CES by signal {result['since']} to {result['until']} (exclusive), scale {result['scale']}; "
                f"{result['high_effort_tickets']} high-effort tickets solved\n"
                f"cost: the CES points it costs against none (share x difference; cost_low, cost_high: 95% interval); "
                f"{model}\n{text}")
    return text


def flags_cmd(level: Level = typer.Option("high", help="high, medium, low or all"),
              since: Optional[str] = typer.Option(None, help="assessed on or after this UTC date"),
              connector: Optional[str] = typer.Option(None, help="only this connector"),
              limit: int = LIMIT, fmt: Format = FORMAT):
    """High-effort tickets with their reasons, newest first."""
    level = Level(level).value
    rt = runtime()
    rows = flags(Scope.everything(), rt, level=None if level == "all" else level, since=parse_date(since, "--since"),
                 connector=connector, limit=limit)
    columns = ["connector", "ticket_id", "level", "index", "basis", "partial", "incomplete", "reasons", "assessed_at"]
    if fmt == Format.table:
        columns = ["connector", "ticket_id", "level", "index", "basis", "why", "assessed_at"]
    out(render(rows, columns, fmt.value, json_obj=rows))
