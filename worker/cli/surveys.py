"""`ces surveys`: list them, resend failed ones, preview the mail and pages, send a test."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import typer

from ces.worker.cli.common import (
    FORMAT,
    LIMIT,
    UNCERTAIN_TOO,
    Format,
    ScaleChoice,
    ids_argument,
    out,
    resend_each,
    runtime,
    settings,
)
from ces.worker.queries import listings
from ces.worker.queries.formats import render
from ces.worker.queries.scope import Scope
from ces.worker.surveys.preview import preview, test_send

surveys_app = typer.Typer(help="Surveys: list them (with --failed, the ones that need a look).")


@surveys_app.callback(invoke_without_command=True)
def surveys(ctx: typer.Context, failed: bool = typer.Option(False, "--failed", help="only failed and uncertain"),
            limit: int = LIMIT, fmt: Format = FORMAT):
    """Surveys with their state and reason, newest first."""
    if ctx.invoked_subcommand:
        return
    rows = listings.surveys(Scope.everything(), runtime(), failed=failed, limit=limit)
    out(render(rows, ["id", "connector", "ticket", "state", "to", "created", "due", "sent", "attempts", "reason"],
               fmt.value))


@surveys_app.command("resend")
def surveys_resend(survey_ids: list[int] = ids_argument("survey"), uncertain: bool = UNCERTAIN_TOO):
    """Send failed surveys again, once the cause is fixed (policy and fatigue are checked again)."""
    resend_each("survey", survey_ids, uncertain)


@surveys_app.command("preview")
def surveys_preview(locale: str = typer.Option("en", help="language, e.g. es, pt-BR, ar"),
                    scale: Optional[ScaleChoice] = typer.Option(None, help="ces7 or effort5 (default: survey.scale)"),
                    connector: Optional[str] = typer.Option(None, help="use this connector's survey settings"),
                    out_: Optional[str] = typer.Option(None, "--out",
                                                       help="folder for the HTML files (default: a new one)")):
    """Render the survey mail and pages as a customer would see them."""
    folder = Path(out_ or tempfile.mkdtemp(prefix="ces-preview-"))
    folder.mkdir(parents=True, exist_ok=True)
    result = preview(settings(), locale=locale, scale=scale.value if scale else None, connector_id=connector,
                     folder=folder)
    out(f"Subject: {result['subject']}\n\n{result['text']}\n")
    for name, path in result["files"].items():
        out(f"{name}: {path}")


@surveys_app.command("test-send")
def surveys_test_send(address: str, locale: str = typer.Option("en", help="language of the mail"),
                      scale: Optional[ScaleChoice] = typer.Option(None, help="ces7 or effort5")):
    """Send a real survey mail to an admin; its links work, its answers are never reported."""
    if "@" not in address:
        raise typer.BadParameter(f"{address!r} is not an e-mail address", param_hint="ADDRESS")
    rt = runtime()
    out(test_send(rt, address, locale=locale, scale=scale.value if scale else None))
