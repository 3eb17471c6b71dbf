"""Benchmarks: signals at scale, on PostgreSQL.

    .venv/bin/python bench/signals.py            # 1,000,000 tickets, 200,000 answers (about 10 minutes)
    .venv/bin/python bench/signals.py --small    # 50,000 tickets, 10,000 answers (under a minute)

Creates its own database (ces_bench_<random>) on the PostgreSQL server given by --postgres, loads
a generated helpdesk (bench/datagen.py) with COPY, and measures, each beside a floor measured in
the same run:

- `ces signals rebuild` (worker/rebuild.py: rebuild) over every ticket, as an update of the stored
  signals and assessments, in tickets per second. Floor: the same rebuild reading the same rows
  and writing the same number of rows (fixed values) without computing anything.
- the rebuild as it was (the models, SQLAlchemy upserts, one process) on a sample: the "before".
- `ces report --by signal` (worker/reports.py: signal_report) over the whole year and over the
  last 30 days: the median of --runs runs. Floor: a bare COUNT(*) over the same joins.

Prints a table to paste into a README, then drops the database (unless --keep). Figures, never
assertions: nothing here fails because the machine is slow.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datagen import START, finish, load_range  # noqa: E402

from ces.config.settings import Settings  # noqa: E402
from ces.worker.db.engine import make_engine  # noqa: E402
from ces.worker.db.migrate import upgrade  # noqa: E402

REPORT_SINCE, REPORT_UNTIL = date(2026, 1, 1), date(2027, 1, 1)
LAST_30 = (date(2026, 10, 18), date(2026, 11, 17))


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
        mem_text = f"{mem:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem_text = "?"
    return f"{os.cpu_count()} cores ({cpu}), {mem_text} memory, Python {platform.python_version()}"


def vacuum(url: str, *tables: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}" if tables else "VACUUM (ANALYZE)")


def load(url: str, tickets: int, answers: int, processes: int) -> float:
    from multiprocessing import get_context

    every = max(1, tickets // max(1, answers))
    began = time.perf_counter()
    cuts = [1 + tickets * i // processes for i in range(processes + 1)]
    with get_context("spawn").Pool(processes) as pool:
        pool.starmap(load_range, [(url, lo, hi, every) for lo, hi in zip(cuts, cuts[1:])])
    finish(url)
    vacuum(url)
    return time.perf_counter() - began


def timed(fn, *args, **kwargs):
    began = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - began, result


def reference_rebuild(rt, since: date, sample: int, batch: int) -> tuple[int, float]:
    """The rebuild as it was before the fast path: rows read through the ORM's JSON type, the models,
    SQLAlchemy upserts, one process; on the first `sample` tickets."""
    from sqlalchemy import select

    from ces.worker.db.models import AssessmentRecord, Ticket, TicketHistoryRecord, TicketSignalsRecord
    from ces.worker.rebuild import _upsert_many, rebuild_batch
    from ces.worker.reports import day_start

    start, cursor, done = day_start(since), 0, 0
    began = time.perf_counter()
    while done < sample:
        with rt.transaction() as s:
            rows = s.execute(select(Ticket.id, Ticket.connector_id, Ticket.last_solved_at,
                                    TicketHistoryRecord.history, TicketHistoryRecord.contacts)
                             .join(TicketHistoryRecord, TicketHistoryRecord.ticket_pk == Ticket.id)
                             .where(Ticket.last_solved_at >= start, Ticket.id > cursor)
                             .order_by(Ticket.id).limit(min(batch, sample - done))).all()
        if not rows:
            break
        signals_rows, assessment_rows = rebuild_batch(rt, rows, rt.now())
        with rt.transaction() as s:
            _upsert_many(s, TicketSignalsRecord, signals_rows)
            _upsert_many(s, AssessmentRecord, assessment_rows)
        cursor = rows[-1].id
        done += len(rows)
    return done, time.perf_counter() - began


def report_floor(rt, since: date, until: date) -> None:
    """COUNT(*) over the joins of signal_report, nothing grouped or computed."""
    from sqlalchemy import and_, func, select

    from ces.worker.db.models import (
        Answer,
        AnswerState,
        AssessmentRecord,
        Solve,
        Survey,
        SurveyState,
        Ticket,
        TicketSignalsRecord,
    )
    from ces.worker.reports import day_start

    lo, hi = day_start(since), day_start(until)
    with rt.transaction() as s:
        s.execute(select(func.count()).select_from(Survey).join(Solve, Solve.id == Survey.solve_id)
                  .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Solve.ticket_pk)
                  .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
                  .where(Survey.state == SurveyState.SENT, Survey.scale == "ces7", Survey.sent_at >= lo,
                         Survey.sent_at < hi)).scalar()
        s.execute(select(func.count()).select_from(Ticket)
                  .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Ticket.id)
                  .join(AssessmentRecord, AssessmentRecord.ticket_pk == Ticket.id)
                  .where(AssessmentRecord.level == "high", Ticket.last_solved_at >= lo,
                         Ticket.last_solved_at < hi)).scalar()


def median_time(runs: int, fn, *args) -> float:
    fn(*args)  # warm: plans cached, pages in memory
    return statistics.median(timed(fn, *args)[0] for _ in range(runs))


def explain(url: str, rt, since: date, until: date) -> str:
    """EXPLAIN ANALYZE of the report's two statements, as SQLAlchemy sends them."""
    from sqlalchemy import event

    from ces.worker.reports import signal_report

    statements = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(rt.engine, "before_cursor_execute", grab)
    try:
        signal_report(rt, since, until)
    finally:
        event.remove(rt.engine, "before_cursor_execute", grab)
    out = []
    with psycopg.connect(url) as conn:
        for statement, parameters in statements:
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).fetchall()
            out.append("\n".join(r[0] for r in plan))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tickets", type=int, default=1_000_000)
    p.add_argument("--answers", type=int, default=200_000)
    p.add_argument("--small", action="store_true", help="50,000 tickets and 10,000 answers: under a minute")
    p.add_argument("--postgres", default=os.environ.get("CES_BENCH_POSTGRES",
                                                        "postgresql://postgres@127.0.0.1:5432/postgres"),
                   help="a server and a database to connect to for CREATE DATABASE")
    p.add_argument("--database", help="an already loaded benchmark database on that server: no load, kept")
    p.add_argument("--workers", type=int, default=None, help="rebuild processes (default: one per core)")
    p.add_argument("--batch", type=int, default=2000, help="tickets per transaction (as the CLI)")
    p.add_argument("--sample", type=int, default=20_000, help="tickets rebuilt the old way, for the 'before'")
    p.add_argument("--runs", type=int, default=5, help="report runs (median)")
    p.add_argument("--explain", action="store_true", help="print the report's query plans")
    p.add_argument("--keep", action="store_true", help="keep the database")
    args = p.parse_args(argv)
    if args.small:
        args.tickets, args.answers, args.sample = 50_000, 10_000, 5_000

    base = args.postgres.rsplit("/", 1)[0]
    name = args.database or f"ces_bench_{uuid.uuid4().hex[:8]}"
    url = f"{base}/{name}"
    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    if not args.database:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        return run(args, url, name)
    finally:
        if not args.database and not args.keep:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif not args.database:
            print(f"kept database {name}")


def run(args, url: str, name: str) -> int:
    from ces.worker.rebuild import default_workers, rebuild
    from ces.worker.reports import signal_report
    from ces.worker.runtime import Runtime

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    with psycopg.connect(url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        loaded = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    lines = []

    def note(text: str) -> None:
        print(text, flush=True)

    if not loaded:
        seconds = load(url, args.tickets, args.answers, processes=os.cpu_count() or 2)
        note(f"loaded {args.tickets:,} tickets, {args.answers:,} answers in {seconds:.0f} s "
             f"(load average {load_average()})")
    with psycopg.connect(url) as conn:
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
        answers = conn.execute("SELECT count(*) FROM answers WHERE state = 'confirmed'").fetchone()[0]
        entries = conn.execute("SELECT avg(json_array_length(history->'entries')) FROM "
                               "(SELECT history FROM ticket_histories TABLESAMPLE SYSTEM (1)) h").fetchone()[0]
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('ticket_histories'))").fetchone()[0]
    rt = Runtime(Settings(database_url=url))
    workers = args.workers or default_workers(rt)
    since = START.date()

    def rebuild_run(label: str, **kw) -> tuple[float, int]:
        loadavg = load_average()
        total, done, seconds = rebuild(rt, since, restart=True, batch=args.batch, workers=workers, **kw)
        vacuum(url, "ticket_signals", "assessments")
        note(f"{label}: {done:,} tickets in {seconds:.1f} s = {done / seconds:,.0f} tickets/s "
             f"(load average before {loadavg})")
        return seconds, done

    has_rows = rt.engine.connect().exec_driver_sql("SELECT EXISTS (SELECT 1 FROM ticket_signals)").scalar()
    first = None
    if not has_rows:
        first = rebuild_run("rebuild into empty tables (insert)")
    floor_s, floor_n = rebuild_run("floor: read + write the same rows, no computing", floor=True)
    fast_s, fast_n = rebuild_run("rebuild (update)")
    ref_n, ref_s = reference_rebuild(rt, since, args.sample, args.batch)
    note(f"before (models, 1 process): {ref_n:,} tickets in {ref_s:.1f} s = {ref_n / ref_s:,.0f} tickets/s")
    rebuild(rt, since, restart=True, batch=args.batch, workers=workers)  # the sample as the fast path writes it
    vacuum(url, "ticket_signals", "assessments")

    reports = []
    for label, (lo, hi) in (("whole year", (REPORT_SINCE, REPORT_UNTIL)), ("last 30 days", LAST_30)):
        loadavg = load_average()
        t = median_time(args.runs, lambda a, b: signal_report(rt, a, b), lo, hi)
        f = median_time(args.runs, report_floor, rt, lo, hi)
        result = signal_report(rt, lo, hi)
        sent = sum(r["surveys_sent"] for r in result["rows"] if r["signal"] == "transfers")
        reports.append((label, t, f, sent, result["high_effort_tickets"], loadavg))
        note(f"report --by signal, {label}: {t * 1000:.0f} ms, COUNT(*) floor {f * 1000:.0f} ms "
             f"({sent:,} surveys, {result['high_effort_tickets']:,} high-effort tickets; load average {loadavg})")
    if args.explain:
        print(explain(url, rt, REPORT_SINCE, REPORT_UNTIL))
    rt.close()

    lines.append(f"{tickets:,} tickets ({entries:.1f} history entries on average, histories {size}), "
                 f"{answers:,} confirmed answers; PostgreSQL {server}; {machine()}; rebuild with {workers} "
                 f"worker process(es), {args.batch:,} tickets per transaction.")
    lines.append("")
    lines.append("| measurement | result | floor (same run) | ratio to floor |")
    lines.append("|---|---|---|---|")
    lines.append(f"| `ces signals rebuild`, {fast_n:,} tickets (update) | {fast_n / fast_s:,.0f} tickets/s "
                 f"({fast_s:.1f} s) | {floor_n / floor_s:,.0f} tickets/s ({floor_s:.1f} s): read + write, no computing "
                 f"| {fast_s / floor_s:.2f} |")
    if first:
        lines.append(f"| the same into empty tables (insert) | {first[1] / first[0]:,.0f} tickets/s ({first[0]:.1f} s) "
                     f"| | |")
    lines.append(f"| the rebuild before (models, SQLAlchemy upserts, 1 process), {ref_n:,}-ticket sample | "
                 f"{ref_n / ref_s:,.0f} tickets/s | | {(fast_n / fast_s) / (ref_n / ref_s):.1f}× faster now |")
    for label, t, f, sent, high, _ in reports:
        lines.append(f"| `ces report --by signal`, {label} ({sent:,} surveys, {high:,} high-effort tickets) "
                     f"| {t * 1000:,.0f} ms | {f * 1000:,.0f} ms: COUNT(*) over the same joins | {t / f:.2f} |")
    lines.append("")
    lines.append("Load average (1, 5, 15 min) before each measurement: rebuild " +
                 ", report ".join([""] + [r[5] for r in reports]).lstrip(", ") + f"; at the end {load_average()}.")
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
