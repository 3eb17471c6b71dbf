"""The newcomer's first command: `ces up` with no configuration runs the demo and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import requests

from tests.support import Lines, descendants, free_port, stops_on_sigterm

pytestmark = pytest.mark.slow


def test_ces_up_without_configuration_runs_the_demo_and_reports(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CES_")}
    done = subprocess.run([sys.executable, "-m", "ces.worker.cli", "up", "--port", str(free_port())],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "running the demo" in out
    assert re.search(r"35 survey e-mails received by the mail sink; \d+ customers answered", out)
    [row] = [line for line in out.splitlines() if re.match(r"^35\s+\d+\s+\d+\.\d%", line)]
    assert "Survey states: sent 35, skipped 1." in out
    flagged = re.search(r"(\d+) tickets flagged high effort \(`ces flags`\); (\d+) follow-up alerts", out)
    assert flagged and int(flagged.group(1)) >= 1 and int(flagged.group(2)) >= 1
    assert not list(tmp_path.iterdir())  # the demo leaves nothing behind in the working directory


def test_sigterm_stops_the_kept_demo_and_leaves_nothing_behind(tmp_path):
    """`kill -TERM` is how service managers and containers stop things: it stops the demo's
    server, worker and scheduler, removes its folder and deletes its Redis keys, as Ctrl-C does.
    Its hint is a command that runs as printed, even with `ces` not on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CES_")}
    ces = Path(sys.executable).parent / "ces"
    proc = subprocess.Popen([str(ces), "demo", "--keep", "--tickets", "4", "--port", str(free_port())], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = Lines(proc.stdout)
        workdir = Path(re.search(r"data in (\S+)\)", out.until("Demo running at")).group(1))
        lead = out.until("The console, as a team lead")
        hint = out.until("Try: ")
        children = descendants(proc.pid)
        prefix = f"ces-demo-{proc.pid}:"
        client = redis.Redis.from_url(os.environ.get("CES_TEST_REDIS", "redis://127.0.0.1:6379/0"))
        assert workdir.is_dir() and len(children) >= 3 and list(client.scan_iter(match=f"{prefix}*"))

        command = re.search(r"Try: (.+) surveys", hint).group(1) + " surveys"
        shown = subprocess.run(["/bin/sh", "-c", command], env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                               cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.splitlines()[0].split()[:4] == ["id", "connector", "ticket", "state"]

        link = re.search(r"open (http://\S+/login/link/\S+) ", lead).group(1)
        form = requests.get(link, timeout=10)  # the one-time link's page: a form to set the password
        assert form.status_code == 200 and 'name="password"' in form.text and "lead@demo.example" in form.text

        stops_on_sigterm(proc, children)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not workdir.exists()
    assert not list(client.scan_iter(match=f"{prefix}*"))
    assert not list(tmp_path.glob("*.db"))
