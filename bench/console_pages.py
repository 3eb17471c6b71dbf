"""Benchmark: the console's report pages (Overview, Drivers, Teams and agents) and `ces report` on
the daily rollups, on PostgreSQL.

    .venv/bin/python bench/console_pages.py                      # 50,000 tickets, 10,000 answers
    .venv/bin/python bench/console_pages.py --tickets 1000000 --answers 200000   # the issue's size

Creates its own database (ces_bench_<random>) on $CES_BENCH_POSTGRES's server, loads the generated helpdesk of
bench/datagen.py with COPY, assesses every ticket (`ces signals rebuild`), fills the rollups from
scratch (timed: what a first reader after the upgrade pays), then requests each page signed in as
an admin, over HTTP from the same machine (uvicorn in a thread, `ces serve --only console`), over
the last 90 days and over the whole year, and prints p50 and p95 of --runs requests each, beside
`ces report` (its function) over the same ranges. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PG_ADMIN, database  # noqa: E402
from signals import load, load_average, machine  # noqa: E402

from ces.config.settings import Settings  # noqa: E402

YEAR = (date(2026, 1, 1), date(2026, 12, 31))  # both days included, as the pages take them
DAYS_90 = (date(2026, 8, 19), date(2026, 11, 16))
PAGES = ("/", "/drivers", "/teams")
PASSWORD = "benchmark password 1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Served:
    """The app on a local socket (uvicorn in a thread), as `ces serve` runs it."""

    def __init__(self, app):
        import socket
        import threading

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def signed_in_session(base: str, rt):
    import re

    import requests

    from ces.worker.console import passwords, users

    link = users.add(rt, "bench@acme.test", "admin", [], "Bench")
    users.use_link(rt, link.rsplit("/", 1)[1], passwords.hash_password(PASSWORD))
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    resp = http.post(f"{base}/login", data={"csrf": token, "email": "bench@acme.test", "password": PASSWORD},
                     allow_redirects=False, timeout=30)
    assert resp.status_code == 303, resp.text[:300]
    return http


def timed_runs(fn, runs: int) -> list[float]:
    fn()  # warm: the first request compiles the templates
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append((time.perf_counter() - began) * 1000)
    return out


def run(args, url: str) -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # no request lines
    from ces.worker import rollups
    from ces.worker.db.engine import make_engine
    from ces.worker.db.migrate import upgrade
    from ces.worker.queries.reports import ces_report
    from ces.worker.queries.scope import Scope
    from ces.worker.runtime import Runtime
    from ces.worker.signals.rebuild import rebuild
    from ces.worker.web.app import create_app

    upgrade(make_engine(url))
    with psycopg.connect(url) as conn:
        loaded = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    if not loaded:
        seconds = load(url, args.tickets, args.answers, processes=os.cpu_count() or 2)
        print(f"loaded {args.tickets:,} tickets, {args.answers:,} answers in {seconds:.0f} s", flush=True)
    rt = Runtime(Settings(database_url=url))
    began = time.perf_counter()
    rebuild(rt, date(2026, 1, 1), restart=True)
    print(f"assessed every ticket in {time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    days = rollups.rebuild_all(rt)
    print(f"rollups from scratch: {days} days in {time.perf_counter() - began:.1f} s", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT count(*) FROM daily_rollups").fetchone()[0]
        conn.execute("VACUUM (ANALYZE) daily_rollups")
    print(f"{rows:,} rollup rows; load average {load_average()}", flush=True)

    served = Served(create_app(rt, only="console"))
    http = signed_in_session(served.url, rt)
    print("\n| page | 90 days p50 / p95 | year p50 / p95 |\n|---|---|---|")
    for path in PAGES:
        cells = []
        for first, last in (DAYS_90, YEAR):
            page = f"{served.url}{path}?from={first}&to={last}"
            times = timed_runs(lambda page=page: http.get(page, timeout=60).raise_for_status(), args.runs)
            cells.append(f"{statistics.median(times):.0f} / {percentile(times, 0.95):.0f} ms")
        print(f"| `{path}` | {cells[0]} | {cells[1]} |", flush=True)
    cells = []
    for first, last in (DAYS_90, YEAR):
        until = date.fromordinal(last.toordinal() + 1)
        times = timed_runs(lambda first=first, until=until: ces_report(Scope.everything(), rt, first, until), args.runs)
        cells.append(f"{statistics.median(times):.0f} / {percentile(times, 0.95):.0f} ms")
    print(f"| `ces report` (function) | {cells[0]} | {cells[1]} |")
    served.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=50_000)
    p.add_argument("--answers", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=20, help="requests per page and range")
    p.add_argument("--database", help="an already loaded benchmark database on $CES_BENCH_POSTGRES's server: kept")
    args = p.parse_args(argv)
    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    if args.database:
        run(args, f"{PG_ADMIN.rsplit('/', 1)[0]}/{args.database}")
    else:
        with database() as url:  # dropped afterwards
            run(args, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
