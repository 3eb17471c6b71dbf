"""`ces up` with a configuration: a short summary for the person who started it, and SIGTERM
(service managers, containers) stops every process it started."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.support import Lines, descendants, stops_on_sigterm, wait_until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_up_prints_a_summary_and_stops_everything_on_sigterm(config, app_port):
    env = config.env() | {"CES_WORKER__PROCESSES": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "ces.worker.cli", "up", "--port", str(app_port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = Lines(proc.stdout)
        out.until("Ctrl-C or SIGTERM stops everything", timeout=120)
        summary = "".join(out.seen)
        assert summary.startswith(f"ces up: {config.path}\n")
        assert f"serving on   http://127.0.0.1:{app_port} (public URL http://127.0.0.1:{app_port})" in summary
        assert f"webhook      http://127.0.0.1:{app_port}/webhooks/zendesk-main  (zendesk-main, zendesk)" in summary
        assert "processes    server (pid " in summary and "2 worker(s)" in summary and "scheduler (pid" in summary

        def ready() -> bool:
            assert proc.poll() is None, "ces up stopped"
            try:
                return requests.get(f"http://127.0.0.1:{app_port}/readyz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, 60, 0.1, "the server to be ready")
        children = descendants(proc.pid)
        assert len(children) >= 4
        stops_on_sigterm(proc, children)
    finally:
        if proc.poll() is None:
            proc.kill()
