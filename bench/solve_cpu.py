"""CPU per solve of the worker's tasks, in one process, without Celery: the same functions the
tasks call (worker/tasks.py TASKS: the events, which send the last survey they made due; the send,
which runs its ticket's signals job; run_job for what is left), on PostgreSQL, against the
simulated Zendesk (answering at once) and the SMTP sink, which run in other threads: the figure is
the CPU time of the thread running the tasks (with the tasks of 6 December on, "event" holds the
whole solve and the two others what is left to them). For comparing versions on a shared machine,
where bench/e2e.py's figures drift with the neighbours' load: `--tree DIR` runs another checkout's
code (e.g. `git archive <commit> | tar -x -C DIR`) in the same minute, alternated with this one.

    .venv/bin/python bench/solve_cpu.py [--solves 200] [--tree /tmp/old]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def use_tree(tree: str | None) -> None:
    """Import ces.* from another checkout (the editable install maps the three folders)."""
    if tree:
        import __editable___ces_worker_0_1_0_finder as finder

        finder.MAPPING.update({f"ces.{name}": str(Path(tree) / name) for name in ("worker", "connectors", "config")})


def measure(solves: int) -> dict:
    from sqlalchemy import event, text

    from bench.common import bench_config, database, workdir
    from ces.config import load_settings
    from ces.connectors.models import InboundRequest
    from ces.connectors.zendesk.simulator import ZendeskSimulator
    from ces.worker import tasks
    from ces.worker.db.migrate import upgrade
    from ces.worker.demo.smtp_sink import MailSink
    from ces.worker.events import process_event
    from ces.worker.intake import request_rows, store_batch
    from ces.worker.jobs import run_job
    from ces.worker.logs import configure
    from ces.worker.runtime import Runtime
    from ces.worker.surveys.send import send_survey
    from ces.worker.tasks import HANDLERS

    with database() as db, workdir() as (folder, prefix):
        sink, sim = MailSink().start(), ZendeskSimulator(email="bench@acme.test", token="tok", secret="sec").start()
        (folder / "ces.toml").write_text(bench_config(db, prefix, sink.port, sim.url, "http://127.0.0.1:1"))
        os.environ.update(CES_CONFIG=str(folder / "ces.toml"), BENCH_TOKEN="tok", BENCH_SECRET="sec")
        settings = load_settings()
        configure("WARNING")
        queued: list = []
        rt = Runtime(settings, enqueue=lambda task, row_id: queued.append(row_id))
        upgrade(rt.engine)
        counts = {"statements": 0, "transactions": 0}
        event.listen(rt.engine, "before_cursor_execute", lambda *a: counts.__setitem__("statements", counts["statements"] + 1))
        event.listen(rt.engine, "commit", lambda *a: counts.__setitem__("transactions", counts["transactions"] + 1))
        agent = sim.add_user("Priya Patel", "priya@acme.test", role="agent")
        conn = rt.connector("zendesk-bench")
        # What the tasks run (a tree before TASKS: the functions alone; what they leave runs below).
        run_tasks = getattr(tasks, "TASKS", {})
        events = run_tasks.get("ces.process_events")
        process = (lambda rt, i: events(rt, [i])) if events else process_event
        send = run_tasks.get("ces.send_survey", send_survey)

        def solve_all(n: int) -> dict:
            tickets = [sim.create_ticket(sim.add_user(f"C {i}", f"c{i}-{time.time_ns()}@example.com", locale="en-US"),
                                         f"Q {i}", assignee_id=agent) for i in range(n)]
            event_ids = []
            for t in tickets:
                sim.tickets[t.id].status = "solved"
                body = json.dumps({"ces_event": "ticket.solved", "ticket_id": str(t.id)}).encode()
                req = InboundRequest("POST", "/webhooks/zendesk-bench", "",
                                     {"x-zendesk-webhook-invocation-id": f"i{t.id}"}, body, rt.now(), rt.settings.public_url)
                [ids] = store_batch(rt, [request_rows(conn, req, conn.parse(req), 60)])
                event_ids += ids
            out = {}
            for name, run, ids in (("event", lambda i: process(rt, i), lambda: event_ids),
                                   ("send", lambda i: send(rt, i), lambda: list(queued)),
                                   ("signals", lambda i: run_job(rt, i, HANDLERS), lambda: collect_jobs())):
                todo = ids()
                queued.clear()
                before, statements, transactions = time.thread_time(), counts["statements"], counts["transactions"]
                for i in todo:
                    run(i)
                out[name] = {"cpu_ms": (time.thread_time() - before) * 1000 / n,
                             "statements": (counts["statements"] - statements) / n,
                             "transactions": (counts["transactions"] - transactions) / n}
            return out

        def collect_jobs() -> list[int]:
            with rt.transaction() as s:
                return list(s.scalars(text("UPDATE jobs SET due_at = now(), next_try_at = now() "
                                           "WHERE kind = 'collect' AND state = 'due' RETURNING id")))

        solve_all(10)  # warm: imports, templates, connections
        result = solve_all(solves)
        result["mails"] = len(sink.messages)
        rt.close()
        sim.stop()
        sink.stop()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solves", type=int, default=200)
    parser.add_argument("--tree", help="another checkout whose ces.* to run")
    args = parser.parse_args()
    use_tree(args.tree)
    print(json.dumps(measure(args.solves)))


if __name__ == "__main__":
    main()
