"""`ces signals rebuild`: recompute signals and assessments from the stored histories, in batches,
without calling any helpdesk (e.g. after changing [signals] or [effort]). It remembers how far it
got, so that an interrupted rebuild resumes where it stopped.

The tickets in scope are cut into id ranges of `batch` tickets; each range is read, computed and
written in one transaction. On PostgreSQL the ranges are shared out to worker processes (one per
core) and written with COPY into a temporary table, then upserted; elsewhere they run in this
process. Signals are computed from the stored JSON as is (`signals_from_json`, the same definitions
as `compute_signals` without building models); whatever it does not take as is goes through the
models. The saved position only moves past a range once every range before it is written, so a
resumed rebuild never skips one (it may redo the few that were running). bench/README.md tells why.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from datetime import date, datetime

import orjson
import typer
from sqlalchemy import Text, and_, cast, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ces.config.models import EffortSettings, SignalSettings
from ces.connectors.models import TicketHistory
from ces.worker.db.engine import make_engine
from ces.worker.db.models import (
    Answer,
    AnswerState,
    AppSecret,
    AssessmentRecord,
    Solve,
    Survey,
    SurveyState,
    Ticket,
    TicketHistoryRecord,
    TicketSignalsRecord,
)
from ces.worker.model.scoring import Model
from ces.worker.model.store import in_use
from ces.worker.queries.reports import day_start
from ces.worker.rollups import mark_tickets
from ces.worker.runtime import Runtime
from ces.worker.signals.definitions import Contact, Unusual, compute_signals, signals_from_json
from ces.worker.signals.effort import assess, assessment

SIGNAL_COLUMNS = ("ticket_pk", "computed_at", "group_transfers", "assignee_transfers", "reopens", "repeat_contacts",
                  "repeat_after", "channel_switch", "reply_breach", "customer_messages", "first_reply_seconds",
                  "longest_wait_seconds", "resolution_seconds", "partial", "data")
ASSESSMENT_COLUMNS = ("ticket_pk", "survey_id", "level", "effort_index", "basis", "partial", "reasons",
                      "reason_codes", "assessed_at", "model_id")


def _answers_query(where):
    return (select(Solve.ticket_pk, Solve.number, Survey.id, Answer.score, Answer.scale)
            .join(Survey, Survey.solve_id == Solve.id)
            .outerjoin(Answer, and_(Answer.survey_id == Survey.id, Answer.state == AnswerState.CONFIRMED))
            .where(*where, Survey.state.in_(SurveyState.REACHED)))


def _latest(rows) -> dict[int, tuple[int, tuple[int, str] | None]]:
    latest: dict[int, tuple[int, int, tuple[int, str] | None]] = {}
    for ticket_pk, number, survey_id, score, scale in rows:
        if ticket_pk not in latest or number > latest[ticket_pk][0]:
            latest[ticket_pk] = (number, survey_id, (score, scale) if score is not None else None)
    return {k: (v[1], v[2]) for k, v in latest.items()}


def _answers(s, ticket_ids: list[int]) -> dict[int, tuple[int, tuple[int, str] | None]]:
    """For each ticket, its latest survey that reached the customer and that survey's answer."""
    return _latest(s.execute(_answers_query([Solve.ticket_pk.in_(ticket_ids)])).all())


def _upsert_many(s, model, rows: list[dict]) -> None:
    if not rows:
        return
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(model)
    s.execute(ins.on_conflict_do_update(index_elements=["ticket_pk"],
                                        set_={k: ins.excluded[k] for k in rows[0] if k != "ticket_pk"}), rows)


def rebuild_batch(rt: Runtime, rows, now) -> tuple[list[dict], list[dict]]:
    """The reference, through the models: rows with .id, .connector_id, .last_solved_at, .history and
    .contacts (JSON values). The rebuild itself uses `compute_rows`, which gives the same
    (tests/test_rebuild_fast.py)."""
    with rt.transaction() as s:
        answers = _answers(s, [r.id for r in rows])
    return reference_rows(rows, answers, now, rt.settings.signals, rt.settings.effort, in_use(rt))


def reference_rows(rows, answers: dict, now: datetime, sig_settings: SignalSettings,
                   effort: EffortSettings, model: Model | None = None) -> tuple[list[dict], list[dict]]:
    signals_rows, assessment_rows = [], []
    for r in rows:
        history = TicketHistory.model_validate(r.history)
        contacts = [Contact.model_validate(c) for c in r.contacts or []]
        sig = compute_signals(history, contacts, connector_id=r.connector_id, solved_at=r.last_solved_at,
                              settings=sig_settings)
        survey_id, answer = answers.get(r.id, (None, None))
        result = assess(sig, answer, effort, window_days=sig_settings.repeat_window_days,
                        many_messages=sig_settings.many_customer_messages, model=model)
        signals_rows.append(dict(
            ticket_pk=r.id, computed_at=now, group_transfers=sig.group_transfers,
            assignee_transfers=sig.assignee_transfers, reopens=sig.reopens, repeat_contacts=sig.repeat_contacts,
            repeat_after=sig.repeat_after, channel_switch=sig.channel_switch, reply_breach=sig.reply_breach,
            customer_messages=sig.customer_messages, first_reply_seconds=sig.first_reply_seconds,
            longest_wait_seconds=sig.longest_wait_seconds, resolution_seconds=sig.resolution_seconds,
            partial=sig.partial, data=sig.model_dump(mode="json")))
        assessment_rows.append(dict(
            ticket_pk=r.id, survey_id=survey_id, level=result.level, effort_index=result.index, basis=result.basis,
            partial=result.partial, reasons=[x.model_dump(exclude_none=True) for x in result.reasons],
            reason_codes=",".join(x.code for x in result.reasons)[:300], assessed_at=now,
            model_id=model.id if model else None))
    return signals_rows, assessment_rows


def compute_rows(rows, answers: dict, now: datetime, sig_settings: SignalSettings,
                 effort: EffortSettings, model: Model | None = None) -> tuple[list[tuple], list[tuple]]:
    """`reference_rows` on rows of (id, connector_id, last_solved_at, history JSON text, contacts JSON
    text or None): the values of SIGNAL_COLUMNS and ASSESSMENT_COLUMNS, JSON columns as Python values."""
    window, many = sig_settings.repeat_window_days, sig_settings.many_customer_messages
    loads = orjson.loads
    signals_rows, assessment_rows = [], []
    for ticket_pk, connector_id, solved_at, history_text, contacts_text in rows:
        history = loads(history_text)
        contacts = loads(contacts_text) if contacts_text is not None else None
        try:
            sig = signals_from_json(history, contacts, connector_id=connector_id, solved_at=solved_at,
                                    settings=sig_settings)
        except Unusual:  # not as `collect` stores it: the models read it (or say what is wrong)
            sig = compute_signals(TicketHistory.model_validate(history),
                                  [Contact.model_validate(c) for c in contacts or []], connector_id=connector_id,
                                  solved_at=solved_at, settings=sig_settings).model_dump(mode="json")
        survey_id, answer = answers.get(ticket_pk, (None, None))
        level, index, reasons, basis, partial = assessment(sig, answer, effort, window_days=window,
                                                           many_messages=many, model=model)
        signals_rows.append((
            ticket_pk, now, sig["group_transfers"], sig["assignee_transfers"], sig["reopens"], sig["repeat_contacts"],
            sig["repeat_after"], sig["channel_switch"], sig["slow_first_reply"] or sig["long_wait"],
            sig["customer_messages"], sig["first_reply_seconds"], sig["longest_wait_seconds"],
            sig["resolution_seconds"], partial, sig))
        if reasons:
            reasons_json = [{"code": c, "text": t} if w is None else {"code": c, "text": t, "weight": w}
                            for c, t, w in reasons]
            codes = ",".join([c for c, _, _ in reasons])[:300]
        else:
            reasons_json, codes = [], ""
        assessment_rows.append((ticket_pk, survey_id, level, index, basis, partial, reasons_json, codes, now,
                                model.id if model else None))
    return signals_rows, assessment_rows


# --- one range of tickets: read, compute, write ---------------------------------------------------------
def _read(conn, start: datetime, lo: int, hi: int):
    """The range's tickets as (id, connector_id, last_solved_at, history JSON text, contacts JSON text)
    (the JSON as text: orjson reads it faster than the driver's json module), and their answers."""
    rows = conn.execute(select(Ticket.id, Ticket.connector_id, Ticket.last_solved_at,
                               cast(TicketHistoryRecord.history, Text), cast(TicketHistoryRecord.contacts, Text))
                        .join(TicketHistoryRecord, TicketHistoryRecord.ticket_pk == Ticket.id)
                        .where(Ticket.last_solved_at >= start, Ticket.id > lo, Ticket.id <= hi)
                        .order_by(Ticket.id)).all()
    answers = _latest(conn.execute(_answers_query([Solve.ticket_pk > lo, Solve.ticket_pk <= hi])).all())
    return rows, answers


def _copy_text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        value = orjson.dumps(value).decode()
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)  # int, float (repr: exact)


def _json_text(value) -> str:
    text = orjson.dumps(value).decode()  # no raw tab or newline: JSON escapes them, with backslashes
    return text.replace("\\", "\\\\") if "\\" in text else text


def _float_text(value) -> str:
    return "\\N" if value is None else str(value)


_BOOL = {True: "t", False: "f"}


def _signal_lines(rows: list[tuple]) -> str:
    """SIGNAL_COLUMNS in COPY's text format: what _copy_text gives, column by column, only faster."""
    if not rows:
        return ""
    now, b, f, j = _copy_text(rows[0][1]), _BOOL, _float_text, _json_text
    return "".join(f"{r[0]}\t{now if r[1] is rows[0][1] else _copy_text(r[1])}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\t"
                   f"{r[6]}\t{b[r[7]]}\t{b[r[8]]}\t{r[9]}\t{f(r[10])}\t{f(r[11])}\t{f(r[12])}\t{b[r[13]]}\t"
                   f"{j(r[14])}\n" for r in rows)


def _assessment_lines(rows: list[tuple]) -> str:
    """ASSESSMENT_COLUMNS in COPY's text format (level, basis and reason codes are plain words)."""
    if not rows:
        return ""
    now, b, j, t = _copy_text(rows[0][8]), _BOOL, _json_text, _copy_text
    return "".join(f"{r[0]}\t{t(r[1])}\t{t(r[2])}\t{r[3]}\t{t(r[4])}\t{b[r[5]]}\t{j(r[6])}\t{t(r[7])}\t"
                   f"{now if r[8] is rows[0][8] else t(r[8])}\t{t(r[9])}\n" for r in rows)


_TEMP = {"ticket_signals": "rebuild_signals", "assessments": "rebuild_assessments"}


def _write_pg(conn, table: str, columns: tuple[str, ...], text: str) -> None:
    """COPY into a temporary table (emptied at each commit), then one INSERT … ON CONFLICT."""
    raw = conn.connection.driver_connection
    temp = _TEMP[table]
    cols = ", ".join(columns)
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {table}) ON COMMIT DELETE ROWS")
        with cur.copy(f"COPY {temp} ({cols}) FROM STDIN") as copy:
            copy.write(text)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {temp} ON CONFLICT (ticket_pk) DO UPDATE SET "
                    + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "ticket_pk"))


def _write(conn, signals_rows: list[tuple], assessment_rows: list[tuple]) -> None:
    if not signals_rows:
        return
    mark_tickets(conn, [r[0] for r in assessment_rows])
    if conn.dialect.name == "postgresql":
        # Not waiting for the disk at each range: the position saved after it (a synchronous commit)
        # flushes the log up to there, this range's commit included, so a crash never skips a range.
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
        _write_pg(conn, "ticket_signals", SIGNAL_COLUMNS, _signal_lines(signals_rows))
        _write_pg(conn, "assessments", ASSESSMENT_COLUMNS, _assessment_lines(assessment_rows))
        return
    for model, columns, rows in ((TicketSignalsRecord, SIGNAL_COLUMNS, signals_rows),
                                 (AssessmentRecord, ASSESSMENT_COLUMNS, assessment_rows)):
        ins = sqlite.insert(model)
        conn.execute(ins.on_conflict_do_update(index_elements=["ticket_pk"],
                                               set_={k: ins.excluded[k] for k in columns if k != "ticket_pk"}),
                     [dict(zip(columns, r)) for r in rows])


# What the benchmark's floor writes for every ticket: rows of the usual size, computed from nothing.
_FLOOR_DATA = {"group_transfers": 1, "assignee_transfers": 1, "group_path": ["Billing", "Tier 2"], "reopens": 0,
               "repeat_contacts": 0, "repeat_after": 0, "channels": ["email"], "channel_switch": False,
               "first_reply_seconds": 1680.0, "longest_wait_seconds": 91800.0, "reply_target_seconds": 86400.0,
               "slow_first_reply": False, "long_wait": True, "customer_messages": 2,
               "resolution_seconds": 181433.0, "channel": "email", "missing": []}
_FLOOR_REASONS = [{"code": "group_transfers", "text": "transferred once: Billing → Tier 2"}]


def _floor_rows(rows, answers, now) -> tuple[list[tuple], list[tuple]]:
    signals_rows = [(r[0], now, 1, 1, 0, 0, 0, False, True, 2, 1680.0, 91800.0, 181433.0, False, _FLOOR_DATA)
                    for r in rows]
    assessment_rows = [(r[0], answers.get(r[0], (None, None))[0], "medium", 25, "signals", False, _FLOOR_REASONS,
                        "group_transfers", now, None) for r in rows]
    return signals_rows, assessment_rows


def _range(engine, start, lo, hi, now, sig_settings, effort, floor=False, model=None) -> int:
    with engine.begin() as conn:
        rows, answers = _read(conn, start, lo, hi)
        if floor:
            signals_rows, assessment_rows = _floor_rows(rows, answers, now)
        else:
            signals_rows, assessment_rows = compute_rows(rows, answers, now, sig_settings, effort, model)
        _write(conn, signals_rows, assessment_rows)
    return len(rows)


_worker: dict = {}


def _init_worker(url: str, sig_settings: SignalSettings, effort: EffortSettings, floor: bool,
                 model: Model | None = None) -> None:
    gc.disable()  # the rows are short-lived and acyclic; the collector only costs time here
    _worker.update(engine=make_engine(url, pool_size=1), signals=sig_settings, effort=effort, floor=floor,
                   model=model)


def _run_range(args) -> int:
    start, lo, hi, now = args
    w = _worker
    return _range(w["engine"], start, lo, hi, now, w["signals"], w["effort"], w["floor"], w["model"])


def _scope(s, start: datetime, cursor: int, batch: int) -> tuple[int, list[int]]:
    """How many tickets are in scope after the cursor, and the last id of every `batch` of them (and of
    the very last one): the ranges, in one query."""
    numbered = (select(Ticket.id.label("id"), func.row_number().over(order_by=Ticket.id).label("n"),
                       func.count().over().label("total"))
                .join(TicketHistoryRecord, TicketHistoryRecord.ticket_pk == Ticket.id)
                .where(Ticket.last_solved_at >= start, Ticket.id > cursor).subquery())
    rows = s.execute(select(numbered.c.id, numbered.c.total)
                     .where(or_(numbered.c.n % batch == 0, numbered.c.n == numbered.c.total))
                     .order_by(numbered.c.id)).all()
    return (rows[0].total if rows else 0), [r.id for r in rows]


def default_workers(rt: Runtime) -> int:
    if rt.engine.dialect.name != "postgresql":
        return 1  # SQLite has one writer
    return max(1, min(4, os.cpu_count() or 1))


def rebuild(rt: Runtime, since: date, *, restart: bool = False, batch: int = 2000, progress: bool = False,
            workers: int | None = None, floor: bool = False) -> tuple[int, int, float]:
    """Returns (tickets in scope, tickets rebuilt, seconds). `floor` (for bench/signals.py) reads and
    writes the same rows without computing anything, and saves no position."""
    began = time.perf_counter()
    key = f"rebuild:{since.isoformat()}"
    start = day_start(since)
    with rt.transaction() as s:
        saved = s.get(AppSecret, key)
        cursor = 0 if restart or saved is None or floor else int(saved.value)
        total, bounds = _scope(s, start, cursor, batch)
    workers = default_workers(rt) if workers is None else workers
    workers = min(workers, len(bounds))
    done = 0
    bar = typer.progressbar(length=total, label="rebuilding", file=None) if progress and total else None
    sig_settings, effort, model = rt.settings.signals, rt.settings.effort, in_use(rt)
    ranges = list(zip([cursor] + bounds[:-1], bounds))
    pool = None
    try:
        if bar:
            bar.__enter__()
        if workers > 1:
            rt.engine.dispose()  # no connection of ours is inherited by the workers
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            pool = ctx.Pool(workers, _init_worker, (rt.settings.database_url, sig_settings, effort, floor, model))
            results = pool.imap(_run_range, ((start, lo, hi, rt.now()) for lo, hi in ranges))
        else:
            results = (_range(rt.engine, start, lo, hi, rt.now(), sig_settings, effort, floor, model)
                       for lo, hi in ranges)
        for (_lo, hi), n in zip(ranges, results):  # in order: the position never passes an unwritten range
            if not floor:
                with rt.transaction() as s:
                    save_position(s, key, hi)
            done += n
            if bar:
                bar.update(n)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        if bar:
            bar.__exit__(None, None, None)
    if not floor:
        with rt.transaction() as s:  # finished: a later rebuild of the same range starts over
            s.query(AppSecret).filter(AppSecret.name == key).delete()
    return total, done, time.perf_counter() - began


def save_position(s, key: str, cursor: int) -> None:
    """How far a resumable pass got, under `key` in app_secrets."""
    dialect = postgresql if s.bind.dialect.name == "postgresql" else sqlite
    ins = dialect.insert(AppSecret).values(name=key, value=str(cursor))
    s.execute(ins.on_conflict_do_update(index_elements=["name"], set_={"value": ins.excluded.value}))
