"""What the benchmarks share: a throw-away PostgreSQL database and configuration, processes, wrk."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis
import requests

from ces.worker.demo import processes
from ces.worker.demo.ports import free_port  # noqa: F401 (the benchmarks import it from here)

PG_ADMIN = os.environ.get("CES_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("CES_BENCH_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def database():
    name = f"ces_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def workdir():
    path = Path(tempfile.mkdtemp(prefix="ces-bench-"))
    prefix = f"ces-bench-{path.name}:"
    try:
        yield path, prefix
    finally:
        shutil.rmtree(path, ignore_errors=True)
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


def bench_config(db: str, prefix: str, smtp_port: int, zendesk_url: str, public_url: str, worker: str = "") -> str:
    """The end-to-end benchmarks' ces.toml: the SMTP sink, the simulated Zendesk (its rate limit
    raised: the account's own would be what is measured), no fatigue window, quiet logs."""
    return f'''
public_url = "{public_url}"
database_url = "{db}"
broker_url = "{REDIS}"
broker_prefix = "{prefix}"
log_level = "WARNING"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "Bench <bench@acme.test>"
[survey]
company = "Acme"
fatigue_days = 0
{worker}
[[connectors]]
id = "zendesk-bench"
kind = "zendesk"
base_url = "{zendesk_url}"
email = "bench@acme.test"
api_token_env = "BENCH_TOKEN"
webhook_secret_env = "BENCH_SECRET"
rate_limit_per_minute = 1000000
'''


def env(config: Path, **extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("CES_")}
    out.update(CES_CONFIG=str(config), **extra)
    return out


def ces(*args: str, env: dict, log: Path | None = None, **kw) -> subprocess.Popen:
    out = open(log, "wb") if log else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "ces.worker.cli", *args], env=env, stdout=out,
                            stderr=subprocess.STDOUT if log else subprocess.DEVNULL, **kw)


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def stop(*procs: subprocess.Popen) -> None:
    processes.stop(list(procs), grace=15)


def tree(pid: int) -> list[int]:
    """A process and its children (a Celery worker's pool, `ces worker`'s supervised Celery)."""
    pids = [pid]
    for p in pids:
        try:
            pids += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return pids


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its children have used so far."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
        except (OSError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def busy_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, seconds of all cores) since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def wrk(url: str, script: Path, *, duration: int, connections: int, threads: int = 2) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s",
                          str(script), url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\b", out, re.M):
        lat[pct] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    statuses = re.findall(r"status (\d+): (\d+)", out)
    return {"rate": rate, "p50": lat.get("50"), "p99": lat.get("99"), "raw": out,
            "statuses": {int(k): int(v) for k, v in statuses}}


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), load average {os.getloadavg()[0]:.2f} at the start"
