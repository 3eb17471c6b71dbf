"""The newcomer's first command: `ces up` with no configuration runs the demo and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import free_port

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
