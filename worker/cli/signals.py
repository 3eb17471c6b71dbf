"""`ces signals rebuild`: signals and assessments recomputed from the stored histories."""

from __future__ import annotations

import typer

from ces.worker.cli.common import out, parse_date, runtime
from ces.worker.signals.rebuild import rebuild

signals_app = typer.Typer(no_args_is_help=True, help="Signals from the tickets' histories.")


@signals_app.command("rebuild")
def signals_rebuild(since: str = typer.Option(..., help="tickets solved on or after this UTC date"),
                    restart: bool = typer.Option(False, help="start over instead of resuming"),
                    batch: int = typer.Option(2000, min=1, max=100_000, help="tickets per transaction")):
    """Recompute signals and assessments from the stored histories (no helpdesk calls); resumable."""
    rt = runtime()
    d_since = parse_date(since, "--since")
    total, done, seconds = rebuild(rt, d_since, restart=restart, batch=batch, progress=True)
    rate = f", {done / seconds:,.0f} tickets/s" if seconds > 0 and done else ""
    out(f"rebuilt {done} of {total} tickets solved since {d_since}{rate}")
