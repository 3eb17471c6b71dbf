"""Benchmarks: signals at scale, on PostgreSQL.

    .venv/bin/python bench/signals.py            # 1,000,000 tickets, 200,000 answers (about 12 minutes)
    .venv/bin/python bench/signals.py --small    # 50,000 tickets, 10,000 answers (under a minute)

Creates its own database (ces_bench_<random>) on the PostgreSQL server given by --postgres, loads
a generated helpdesk (bench/datagen.py) with COPY, and measures, each beside a floor measured in
the same run:

- `ces signals rebuild` (worker/signals/rebuild.py: rebuild) over every ticket, as an update of the stored
  signals and assessments, in tickets per second. Floor: the same rebuild reading the same rows
  and writing the same number of rows (fixed values) without computing anything.
- the same rebuild with a learned effort model adopted (worker/model: fitted on the loaded answers,
  and adopted for the run even if it does not beat the fixed weights: only its speed is measured),
  alternated with the fixed weights' runs: the model's cost per ticket (goal: within 10 %).
- the rebuild as it was (the models, SQLAlchemy upserts, one process) on a sample: the "before".
- `ces report --by signal` (worker/queries/reports.py: signal_report) over the whole year and over the
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
from datetime import date
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
    from ces.worker.queries.reports import day_start
    from ces.worker.signals.rebuild import _upsert_many, rebuild_batch

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


def adopt_model(rt, since: date) -> str:
    """Fit the learned model on the loaded answers and make it the adopted one (even when the fit is
    not adopted by its rule: the generated answers need not follow the signals; only its speed counts)."""
    from datetime import datetime, time, timezone

    from sqlalchemy import update

    from ces.worker.db.models import EffortModelRecord
    from ces.worker.model import store

    record = store.fit_and_keep(rt, since=datetime.combine(since, time.min, tzinfo=timezone.utc))
    if record.model is None:
        raise SystemExit(f"bench: no model to adopt: {record.why}")
    with rt.transaction() as s:
        s.execute(update(EffortModelRecord).where(EffortModelRecord.id == record.id).values(adopted=True))
    return (f"model {record.id} fitted on {record.answers:,} answers ({record.low:,} low): "
            + ("adopted" if record.adopted else f"adopted for the benchmark ({record.why})"))


def with_model(rt, use: bool, fn, *args, **kwargs):
    """fn with the adopted model scoring (use) or the fixed weights."""
    from ces.worker.model import store

    rt.settings.model.use = use
    store.forget(rt)
    return fn(*args, **kwargs)


def report_floor(rt, since: date, until: date) -> None:
    """COUNT(*) over the joins of signal_report, nothing grouped or computed (same session settings)."""
    from sqlalchemy import and_, func, select, text

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
    from ces.worker.queries.reports import day_start

    lo, hi = day_start(since), day_start(until)
    with rt.transaction() as s:
        s.execute(text("SET LOCAL jit = off"))
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


def report_before(rt, since: date, until: date) -> None:
    """signal_report's two queries as they were before (text buckets, the server's JIT setting)."""
    from sqlalchemy import and_, case, func, select

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
    from ces.worker.queries.reports import day_start

    T = TicketSignalsRecord
    transfers = T.group_transfers + T.assignee_transfers
    buckets = [case((transfers == 0, "0"), (transfers == 1, "1"), else_="2+"),
               case((T.reopens > 0, "yes"), else_="no"),
               case(((T.repeat_contacts + T.repeat_after) > 0, "yes"), else_="no"),
               case((T.channel_switch, "yes"), else_="no"), case((T.reply_breach, "yes"), else_="no")]
    lo, hi = day_start(since), day_start(until)
    good = func.sum(case((Answer.score.between(5, 7), 1), else_=0))
    with rt.transaction() as s:
        s.execute(select(*buckets, func.count(Survey.id), func.count(Answer.id), good, func.sum(Answer.score))
                  .select_from(Survey).join(Solve, Solve.id == Survey.solve_id)
                  .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Solve.ticket_pk)
                  .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
                  .where(Survey.state == SurveyState.SENT, Survey.scale == "ces7", Survey.sent_at >= lo,
                         Survey.sent_at < hi).group_by(*buckets)).all()
        s.execute(select(*buckets, func.count()).select_from(Ticket)
                  .join(TicketSignalsRecord, TicketSignalsRecord.ticket_pk == Ticket.id)
                  .join(AssessmentRecord, AssessmentRecord.ticket_pk == Ticket.id)
                  .where(AssessmentRecord.level == "high", Ticket.last_solved_at >= lo, Ticket.last_solved_at < hi)
                  .group_by(*buckets)).all()


def cli_seconds(url: str, since: date, until: date) -> float:
    """`ces report --by signal` as a person runs it: a new process (imports, settings, connection)."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(f'database_url = "{url}"\n')
    env = dict(os.environ, CES_CONFIG=f.name)
    ces = str(Path(sys.executable).parent / "ces")
    cmd = [ces, "report", "--by", "signal", "--since", since.isoformat(), "--until", until.isoformat()]
    try:
        subprocess.run(cmd, env=env, check=True, capture_output=True)  # warm
        runs = []
        for _ in range(3):
            began = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - began)
        return statistics.median(runs)
    finally:
        os.unlink(f.name)


def median_time(runs: int, fn, *args) -> float:
    fn(*args)  # warm: plans cached, pages in memory
    return statistics.median(timed(fn, *args)[0] for _ in range(runs))


def explain(url: str, rt, since: date, until: date) -> str:
    """EXPLAIN ANALYZE of the report's two statements, as SQLAlchemy sends them."""
    from sqlalchemy import event

    from ces.worker.queries.reports import signal_report
    from ces.worker.queries.scope import Scope

    statements = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):  # not SET
            statements.append((statement, parameters))

    event.listen(rt.engine, "before_cursor_execute", grab)
    try:
        signal_report(Scope.everything(), rt, since, until)
    finally:
        event.remove(rt.engine, "before_cursor_execute", grab)
    out = []
    with psycopg.connect(url) as conn:
        conn.execute("SET jit = off")  # as signal_report has it
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
    p.add_argument("--repeat", type=int, default=2, help="rebuild and floor runs, alternated (best)")
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
    from alembic import command

    from ces.worker.db.migrate import alembic_config
    from ces.worker.queries.reports import signal_report
    from ces.worker.queries.scope import Scope
    from ces.worker.runtime import Runtime
    from ces.worker.signals.rebuild import default_workers, rebuild

    engine = make_engine(url)
    upgrade(engine)
    with psycopg.connect(url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        loaded = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]

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
    loads: dict[str, list[str]] = {}

    def rebuild_run(label: str, **kw) -> tuple[float, int]:
        loads.setdefault(label, []).append(load_average())
        total, done, seconds = rebuild(rt, since, restart=True, batch=args.batch, workers=workers, **kw)
        vacuum(url, "ticket_signals", "assessments")
        note(f"{label}: {done:,} tickets in {seconds:.1f} s = {done / seconds:,.0f} tickets/s "
             f"(load average before: {loads[label][-1]})")
        return seconds, done

    with rt.engine.connect() as conn:
        has_rows = conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM ticket_signals)").scalar()
    first = None if has_rows else rebuild_run("insert")
    note(adopt_model(rt, since))
    floors, fasts, learned = [], [], []
    for _ in range(args.repeat):  # alternated, so that all see the same neighbours
        floors.append(rebuild_run("floor", floor=True))
        fasts.append(with_model(rt, False, rebuild_run, "rebuild"))
        learned.append(with_model(rt, True, rebuild_run, "rebuild with the model"))
    floor_s, floor_n = min(floors)
    fast_s, fast_n = min(fasts)
    model_s, model_n = min(learned)
    loads["before"] = [load_average()]
    ref_n, ref_s = reference_rebuild(rt, since, args.sample, args.batch)
    vacuum(url, "ticket_signals", "assessments")
    note(f"before (models, 1 process): {ref_n:,} tickets in {ref_s:.1f} s = {ref_n / ref_s:,.0f} tickets/s")

    reports = []
    for label, (lo, hi) in (("whole year", (REPORT_SINCE, REPORT_UNTIL)), ("last 30 days", LAST_30)):
        loadavg = load_average()
        t = median_time(args.runs, lambda a, b: signal_report(Scope.everything(), rt, a, b), lo, hi)
        f = median_time(args.runs, report_floor, rt, lo, hi)
        cli = cli_seconds(url, lo, hi)
        result = signal_report(Scope.everything(), rt, lo, hi)
        sent = sum(r["surveys_sent"] for r in result["rows"] if r["signal"] == "transfers")
        reports.append(dict(label=label, t=t, f=f, cli=cli, sent=sent, high=result["high_effort_tickets"],
                            load=loadavg, lo=lo, hi=hi))
        note(f"report --by signal, {label}: {t * 1000:.0f} ms, COUNT(*) floor {f * 1000:.0f} ms, CLI {cli:.2f} s "
             f"({sent:,} surveys, {result['high_effort_tickets']:,} high-effort tickets; load average {loadavg})")
    if args.explain:
        print(explain(url, rt, REPORT_SINCE, REPORT_UNTIL))
    # The report as it was: the 0003 indexes, text buckets, JIT as the server has it.
    rt.engine.dispose()
    command.downgrade(alembic_config(engine), "0003")
    vacuum(url, "tickets", "ticket_signals", "assessments")
    for r in reports:
        r["before"] = median_time(args.runs, report_before, rt, r["lo"], r["hi"])
        note(f"report --by signal before, {r['label']}: {r['before'] * 1000:.0f} ms")
    rt.engine.dispose()
    upgrade(engine)
    engine.dispose()
    rt.close()

    lines = [f"{tickets:,} tickets ({entries:.1f} history entries on average; histories {size}), {answers:,} "
             f"confirmed answers; PostgreSQL {server} as installed (shared_buffers etc. untouched); {machine()}; "
             f"rebuild: {workers} worker processes, {args.batch:,} tickets per transaction, best of {args.repeat}.",
             "",
             "| measurement | result | floor, same run | ratio to floor |",
             "|---|---|---|---|",
             f"| `ces signals rebuild` (update of {fast_n:,} tickets' signals and assessments) | **{fast_n / fast_s:,.0f} "
             f"tickets/s** ({fast_s:.1f} s) | {floor_n / floor_s:,.0f} tickets/s ({floor_s:.1f} s): the same rows read "
             f"and written, nothing computed | {fast_s / floor_s:.2f} |"]
    lines.append(f"| the same with a learned model adopted (its probability, thresholds and weighed reasons) | "
                 f"**{model_n / model_s:,.0f} tickets/s** ({model_s:.1f} s) | | {model_s / floor_s:.2f}; "
                 f"{(model_n / model_s) / (fast_n / fast_s) - 1:+.1%} against the fixed weights |")
    if first:
        lines.append(f"| the same into empty tables (first build: inserts, foreign-key checks) | "
                     f"{first[1] / first[0]:,.0f} tickets/s ({first[0]:.1f} s) | | |")
    lines.append(f"| the rebuild before (models, ORM upserts, 1 process; {ref_n:,}-ticket sample) | "
                 f"{ref_n / ref_s:,.0f} tickets/s | | now {(fast_n / fast_s) / (ref_n / ref_s):.1f}× faster |")
    for r in reports:
        lines.append(f"| `ces report --by signal`, {r['label']} ({r['sent']:,} surveys, {r['high']:,} high-effort "
                     f"tickets) | **{r['t'] * 1000:,.0f} ms** (before: {r['before'] * 1000:,.0f} ms); the command, "
                     f"process start included: {r['cli']:.2f} s | {r['f'] * 1000:,.0f} ms: COUNT(*) over the same "
                     f"joins | {r['t'] / r['f']:.2f} |")
    lines += ["", "Load average (1, 5, 15 min) before: " + "; ".join(
        [f"floor {', '.join(loads['floor'])}", f"rebuild {', '.join(loads['rebuild'])}",
         f"with the model {', '.join(loads['rebuild with the model'])}",
         f"before {loads['before'][0]}"] + [f"report {r['label']} {r['load']}" for r in reports])
        + f"; at the end {load_average()}."]
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
