"""Stopping the processes a demo (or a benchmark) started."""

from __future__ import annotations

import subprocess


def stop(procs: list[subprocess.Popen], grace: float) -> None:
    """SIGTERM to every one still running, all at once; then `grace` seconds each to exit before SIGKILL."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
