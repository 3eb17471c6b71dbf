"""The `ces` command line (app.py puts the command groups together; the `ces` entry point is main)."""

from ces.worker.cli.app import app, main

__all__ = ["app", "main"]
