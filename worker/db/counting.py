"""For the benchmark only: counts of SQL statements and transactions per process.

Off unless the environment names a folder in BENCH_SQL_COUNTS (bench/e2e.py sets it); then every
engine the process makes counts its statements (`before_cursor_execute`) and commits, and a daemon
thread writes the totals to `<folder>/<pid>.json` twice a second, where the benchmark reads them
before and after its run. Production never sets it, so no listener is attached there."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

FOLDER_VARIABLE = "BENCH_SQL_COUNTS"
_counts: dict[str, float] = {"statements": 0, "commits": 0, "rollbacks": 0}
_writer: threading.Thread | None = None


def count_if_asked(engine: Engine) -> None:
    folder = os.environ.get(FOLDER_VARIABLE)
    if not folder:
        return

    def bump(key: str):
        def listener(*_args, **_kw):
            _counts[key] += 1  # under the GIL; an increment lost to a race is noise at these counts
        return listener

    event.listen(engine, "before_cursor_execute", bump("statements"))
    event.listen(engine, "commit", bump("commits"))
    event.listen(engine, "rollback", bump("rollbacks"))
    _time_tasks()
    _start_writer(Path(folder))


def _time_tasks() -> None:
    """CPU seconds of each Celery task by name (the thread's CPU time: the pool runs tasks in threads)."""
    from celery import signals

    started: dict[str, float] = {}

    def prerun(task_id=None, **_kw):
        started[task_id] = time.thread_time()

    def postrun(task_id=None, task=None, **_kw):
        spent = time.thread_time() - started.pop(task_id, time.thread_time())
        _counts[f"cpu {task.name}"] = _counts.get(f"cpu {task.name}", 0) + spent
        _counts[f"runs {task.name}"] = _counts.get(f"runs {task.name}", 0) + 1

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)


def _start_writer(folder: Path) -> None:
    global _writer
    if _writer is not None and _writer.is_alive() and _writer.name == f"sql-counts-{os.getpid()}":
        return  # one per process (a forked child starts its own)

    def write_forever() -> None:
        target = folder / f"{os.getpid()}.json"
        while True:
            target.with_suffix(".tmp").write_text(json.dumps(_counts))
            target.with_suffix(".tmp").replace(target)
            threading.Event().wait(0.5)

    _writer = threading.Thread(target=write_forever, name=f"sql-counts-{os.getpid()}", daemon=True)
    _writer.start()


def read_counts(folder: Path) -> dict[int, dict[str, float]]:
    """{pid: counts} of every process that wrote into the folder."""
    out = {}
    for path in folder.glob("*.json"):
        try:
            out[int(path.stem)] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out
