"""Intake benchmark: signed Zendesk webhooks into PostgreSQL, against the floor (the same server
stack answering a bare 202), in the same run. Prints a table and the ratio.

    .venv/bin/python bench/intake.py [--duration 15] [--connections 32]

Every request is a distinct, correctly signed delivery (a new invocation id and a body of its own:
the signed timestamp and body are a delivery key too), so each one is
verified, parsed, stored (group commit: one INSERT … ON CONFLICT and one COMMIT shared by the
webhooks waiting at that moment) and pushed to Redis. Afterwards the database must hold exactly
as many events as there were 202 answers: a 2xx means "in the database".
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import REDIS, ces, database, env, free_port, machine, stop, wait_http, workdir, wrk  # noqa: E402
from ces.connectors.zendesk.connector import sign  # noqa: E402

SECRET = "bench-signing-secret"
LUA = r"""
local reqs = {}
local n = 0
local i = 0
function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    n = n + 1
    reqs[n] = line
  end
  f:close()
  local per = math.floor(n / tonumber(args[3]))
  i = per * tonumber(args[2])
end
function request()
  i = i + 1
  if i > n then i = 1 end
  local inv, ts, sig, body = reqs[i]:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["X-Zendesk-Webhook-Invocation-Id"] = inv, ["X-Zendesk-Webhook-Signature-Timestamp"] = ts,
    ["X-Zendesk-Webhook-Signature"] = sig}, body)
end
response = function(status, headers, body)
  local key = "status " .. status
  counts = counts or {}
  counts[key] = (counts[key] or 0) + 1
end
"""


def requests_file(path: Path, count: int, run: int = 0) -> None:
    """`count` distinct signed deliveries; each run gets its own, so that none is a duplicate."""
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(path, "w") as f:
        for i in range(count):
            body = json.dumps({"ces_event": "ticket.solved", "ticket_id": str(100000 + run * count + i),
                               "status": "Solved"})
            f.write(f"bench-{run}-{i:08d}\t{ts}\t{sign(SECRET, ts, body.encode())}\t{body}\n")


def script(folder: Path, data: Path, thread_count: int) -> Path:
    """One Lua state per wrk thread, each starting in its own slice of the requests."""
    folder.mkdir(parents=True, exist_ok=True)
    lua = folder / "intake.lua"
    setup = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
"""
    body = LUA.replace('function init(args)\n  local f = assert(io.open(args[1], "r"))',
                       f'function init(args)\n  local f = assert(io.open("{data}", "r"))')
    body = body.replace("tonumber(args[3])", str(thread_count)).replace("tonumber(args[2])", "id")
    lua.write_text(setup + body)
    return lua


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--count", type=int, default=80000, help="distinct signed requests prepared")
    parser.add_argument("--processes", type=int, default=1, help="server processes, for the floor and ces serve")
    parser.add_argument("--repeat", type=int, default=2, help="alternated runs of each; the best is reported")
    args = parser.parse_args()
    print(f"machine: {machine()}; {args.processes} server process(es); wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s")
    with database() as db, workdir() as (folder, prefix):
        config = folder / "ces.toml"
        config.write_text(f'''
public_url = "http://127.0.0.1"
database_url = "{db}"
broker_url = "{REDIS}"
broker_prefix = "{prefix}"
log_level = "WARNING"
[[connectors]]
id = "zendesk-bench"
kind = "zendesk"
subdomain = "bench"
email = "bench@example.com"
api_token_env = "BENCH_ZD_TOKEN"
webhook_secret_env = "BENCH_ZD_SECRET"
''')
        e = env(config, BENCH_ZD_TOKEN="t", BENCH_ZD_SECRET=SECRET)
        subprocess.run([sys.executable, "-m", "ces.worker.cli", "migrate"], env=e, check=True, capture_output=True)
        scripts = []  # one set of distinct deliveries per run of ces serve: the warm-up, then each measured run
        for run in range(args.repeat + 1):
            data = folder / f"requests-{run}.tsv"
            requests_file(data, args.count, run)
            scripts.append(script(folder / f"run-{run}", data, args.threads))
        floor_port, port = free_port(), free_port()
        floor = subprocess.Popen([sys.executable, str(Path(__file__).parent / "floor.py"), str(floor_port),
                                  str(args.processes)])
        server = ces("serve", "--port", str(port), "--processes", str(args.processes), env=e,
                     log=folder / "serve.log")
        floor_url, url = (f"http://127.0.0.1:{p}/webhooks/zendesk-bench" for p in (floor_port, port))
        runs: dict[str, list[dict]] = {"floor": [], "ces": []}
        try:
            wait_http(f"http://127.0.0.1:{floor_port}/docs")
            wait_http(f"http://127.0.0.1:{port}/healthz")
            for target in (floor_url, url):  # warm-up: connections, caches, the first batches
                wrk(target, scripts[0], duration=2, connections=args.connections, threads=args.threads)
            # Alternated, best of --repeat each: both servers see the same machine, noise and all.
            for run in range(1, args.repeat + 1):
                for name, target in (("floor", floor_url), ("ces", url)):
                    runs[name].append(wrk(target, scripts[run], duration=args.duration,
                                          connections=args.connections, threads=args.threads))
                    print(f"  {name:<5} {runs[name][-1]['rate']:>9,.0f}/s  p50 {runs[name][-1]['p50']:.1f} ms  "
                          f"p99 {runs[name][-1]['p99']:.1f} ms", flush=True)
        finally:
            stop(floor, server)
        rows = [("bare 202 (the floor)", max(runs["floor"], key=lambda r: r["rate"])),
                ("verify + store in PostgreSQL (group commit) + push", max(runs["ces"], key=lambda r: r["rate"]))]
        with psycopg.connect(db.replace("postgresql+psycopg", "postgresql")) as conn:
            stored = conn.execute("select count(*) from webhook_events").fetchone()[0]
    floor_rate = rows[0][1]["rate"]
    print(f"\n{'intake variant':<52} {'webhooks/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
    for name, r in rows:
        print(f"{name:<52} {r['rate']:>11,.0f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['rate'] / floor_rate:>6.2f}")
    pairs = sorted(c["rate"] / f["rate"] for f, c in zip(runs["floor"], runs["ces"]))
    print(f"\nbest of {args.repeat} alternated runs each. Ratio of each ces run to the floor run just before it: "
          f"{', '.join(f'{p:.2f}' for p in pairs)} (median {statistics.median(pairs):.2f}): the machine's own "
          f"speed drifts between runs, a pair shares it.")
    print(f"events stored over all runs: {stored:,} (each a 202; wrk counts every request it completed, including "
          f"those cut off at the end)")


if __name__ == "__main__":
    main()
