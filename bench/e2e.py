"""End-to-end benchmark: a solved-ticket webhook → the survey mail accepted by the SMTP server,
with the real processes (`ces serve`, `ces worker`, `ces scheduler`, PostgreSQL, Redis), a
simulated Zendesk that answers every API call in 50 ms (its rate limit raised for the run: the
account-wide limit would otherwise be the bottleneck, not ces-worker), at a steady rate of solves.

    .venv/bin/python bench/e2e.py [--rate 100] [--duration 60] [--workers 2 --concurrency 8 --pool threads]

Prints p50/p95/p99 of webhook → mail, whether a backlog grew (the last tenth of the run against
the first), and the resident memory of `ces serve` and `ces worker` after the run. Every solve also
runs its signals collection (4 more API calls), as in production.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (  # noqa: E402
    REDIS,
    bench_config,
    busy_seconds,
    ces,
    cpu_seconds,
    database,
    env,
    free_port,
    machine,
    rss_mb,
    stop,
    tree,
    wait_http,
    workdir,
)
from ces.connectors.zendesk.simulator import ZendeskSimulator  # noqa: E402
from ces.worker.db.counting import read_counts  # noqa: E402
from ces.worker.demo.smtp_sink import MailSink  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def sql_by_process(procs, folder: Path, workers: int) -> dict[str, dict[str, int]]:
    """Statements and transactions (commits + rollbacks) so far, summed per ces process and its children."""
    names = ["ces serve"] + ["ces worker"] * workers + ["ces scheduler"]
    counts = read_counts(folder)
    out: dict[str, dict[str, int]] = {}
    for name, p in zip(names, procs):
        total = out.setdefault(name, {"statements": 0, "transactions": 0})
        for pid in tree(p.pid):
            c = counts.get(pid, {})
            total["statements"] += c.get("statements", 0)
            total["transactions"] += c.get("commits", 0) + c.get("rollbacks", 0)
            for key in (k for k in c if k.startswith(("cpu ", "runs "))):  # the worker's CPU by task
                total[key] = total.get(key, 0) + c[key]
    return out


def services_load(db: str) -> dict[str, float]:
    """CPU seconds so far of the PostgreSQL backends serving the bench's database (its pooled
    connections live through the run), and the commands Redis has processed (all of its clients':
    on a shared machine, an upper bound)."""
    import psycopg
    import redis

    with psycopg.connect(db) as conn:
        pids = [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return {"postgres_ms": sum(cpu_seconds(pid) for pid in pids) * 1000,
            "redis_commands": float(redis.Redis.from_url(REDIS).info("stats")["total_commands_processed"])}


def run_floor(zendesk: str, smtp_port: int, db: str, ticket_ids: list[int]) -> float:
    """CPU per solve of bench/e2e_floor.py: the irreducible work, on the same simulator, sink and database."""
    import subprocess

    out = subprocess.run([sys.executable, str(Path(__file__).with_name("e2e_floor.py")), zendesk, str(smtp_port), db,
                          *map(str, ticket_ids)], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])["cpu_ms_per_solve"]


def run(rate: int, duration: int, pool: str, concurrency: int, workers: int) -> dict:
    with database() as db, workdir() as (folder, prefix):
        sink = MailSink().start()
        sim = ZendeskSimulator(email="bench@acme.test", token="tok", secret="sec").start()
        sim.server.latency = 0.05
        count = rate * duration
        agent = sim.add_user("Priya Patel", "priya@acme.test", role="agent")
        tickets = []
        for i in range(count):
            customer = sim.add_user(f"Customer {i}", f"c{i}@example.com", locale="en-US")
            tickets.append(sim.create_ticket(customer, f"Question {i}", assignee_id=agent))
        port = free_port()
        config = folder / "ces.toml"
        config.write_text(bench_config(db, prefix, sink.port, sim.url, f"http://127.0.0.1:{port}", f'''
[worker]
pool = "{pool}"
concurrency = {concurrency}
sweep_interval_seconds = 0.5
'''))
        counts_folder = folder / "sql-counts"
        counts_folder.mkdir()
        e = env(config, BENCH_TOKEN="tok", BENCH_SECRET="sec", BENCH_SQL_COUNTS=str(counts_folder))
        import subprocess

        subprocess.run([sys.executable, "-m", "ces.worker.cli", "migrate"], env=e, check=True, capture_output=True)
        procs = [ces("serve", "--port", str(port), env=e, log=folder / "serve.log")]
        procs += [ces("worker", env=e, log=folder / f"worker{i}.log") for i in range(workers)]
        procs.append(ces("scheduler", env=e, log=folder / "scheduler.log"))
        sim.webhook_url = f"http://127.0.0.1:{port}/webhooks/zendesk-bench"
        sent_at: dict[str, float] = {}
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            time.sleep(2)
            pool_ = ThreadPoolExecutor(16)

            def solve(t):
                sent_at[f"c{t.requester_id}"] = time.monotonic()
                sim.set_status(t.id, "solved")

            cpu_before = {p.pid: cpu_seconds(p.pid) for p in procs}
            services_before = services_load(db)
            sql_before = sql_by_process(procs, counts_folder, workers)
            machine_before, own_before = busy_seconds(), time.process_time()
            api_before = sim.server.count()
            start = time.monotonic()
            for i, t in enumerate(tickets):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool_.submit(solve, t)
            pool_.shutdown(wait=True)
            deadline = time.monotonic() + 120 + count / 10  # time for a backlog to drain, if it grew
            while len(sink.messages) < count and time.monotonic() < deadline:
                time.sleep(0.2)
            signals_done(db, time.monotonic() + 60)  # the last solves' signals too: their CPU and calls counted
            memory = {"ces serve": rss_mb(procs[0].pid),
                      "ces worker": sum(rss_mb(p.pid) for p in procs[1:1 + workers])}
            cpu = {p.pid: cpu_seconds(p.pid) - cpu_before[p.pid] for p in procs}
            api_calls = (sim.server.count() - api_before) / count
            cpu_ms = {"ces serve": cpu[procs[0].pid] * 1000 / count,
                      "ces worker": sum(cpu[p.pid] for p in procs[1:1 + workers]) * 1000 / count,
                      "ces scheduler": cpu[procs[-1].pid] * 1000 / count,
                      "simulated Zendesk + SMTP + client": (time.process_time() - own_before) * 1000 / count}
            busy, elapsed = (b - a for b, a in zip(busy_seconds(), machine_before))
            time.sleep(1)  # the processes write their counts twice a second
            sql = {name: {k: (v - sql_before.get(name, {}).get(k, 0)) / count for k, v in counts.items()}
                   for name, counts in sql_by_process(procs, counts_folder, workers).items()}
            cpu_ms["all of the machine"] = busy * 1000 / count
            services = {k: (v - services_before[k]) / count for k, v in services_load(db).items()}
            load = busy / elapsed
            import psycopg

            with psycopg.connect(db) as conn:
                stages = conn.execute("""
                    select percentile_cont(0.5) within group (order by extract(epoch from e.processed_at - e.received_at)),
                           percentile_cont(0.5) within group (order by extract(epoch from s.created_at - e.processed_at)),
                           percentile_cont(0.5) within group (order by extract(epoch from s.sent_at - s.created_at))
                    from surveys s join solves so on so.id = s.solve_id join webhook_events e on e.id = so.event_id
                """).fetchone()
            print("median seconds: event stored → processed %.3f, processed → survey row %.3f, "
                  "survey row → sent %.3f" % tuple(float(x or 0) for x in stages))
        finally:
            stop(*procs)
        mails = list(zip(sink.messages, sink.arrived_at))  # before the floor sends its own
        floor = run_floor(sim.url, sink.port, db, [t.id for t in tickets[:min(count, 600)]])
        sim.stop()
        sink.stop()
        arrivals = {}
        for msg, when in mails:
            email = msg["To"].addresses[0].addr_spec
            arrivals[email] = when
        by_user = {u["email"]: f"c{uid}" for uid, u in sim.users.items() if u.get("email")}
        latencies = []
        order = []
        for email, when in arrivals.items():
            key = by_user.get(email)
            if key in sent_at:
                latencies.append(when - sent_at[key])
                order.append((sent_at[key], when - sent_at[key]))
        order.sort()
        tenth = max(1, len(order) // 10)
        # The rate the run sustained: solves per second from the first solve to the last mail (at an
        # offered rate above what the machine drains, this is what it drains).
        span = max(arrivals.values()) - min(sent_at.values()) if arrivals else None
        first = statistics.median(l for _, l in order[:tenth]) if order else None
        last = statistics.median(l for _, l in order[-tenth:]) if order else None
        return {"sent": count, "mails": len(mails), "p50": percentile(latencies, 50) if latencies else None,
                "p95": percentile(latencies, 95) if latencies else None,
                "p99": percentile(latencies, 99) if latencies else None, "first_tenth": first, "last_tenth": last,
                "memory": memory, "cpu_ms_per_solve": cpu_ms, "machine_busy": load, "sql_per_solve": sql,
                "floor_ms": floor, "services": services, "api_calls": api_calls,
                "sustained_per_s": len(latencies) / span if span else None}


def signals_done(db: str, deadline: float) -> None:
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        while time.monotonic() < deadline and conn.execute(
                "select count(*) from jobs where kind = 'collect' and due_at <= now()").fetchone()[0]:
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100, help="solves per second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of solves")
    parser.add_argument("--pool", default="threads", choices=["threads", "prefork", "solo"])
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker ([worker] default)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="`ces worker` processes (default: one per core, as `ces up` starts them)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    r = run(args.rate, args.duration, args.pool, args.concurrency, args.workers)
    ms = lambda v: f"{v * 1000:,.0f}" if v is not None else "-"  # noqa: E731
    print(f"\n{args.rate} solves/s for {args.duration} s, {args.workers} worker(s), pool {args.pool}, "
          f"concurrency {args.concurrency}; simulated Zendesk answering in 50 ms")
    print(f"{'mails':>7} {'of':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'first 10% p50':>14} {'last 10% p50':>13}")
    print(f"{r['mails']:>7} {r['sent']:>6} {ms(r['p50']):>8} {ms(r['p95']):>8} {ms(r['p99']):>8} "
          f"{ms(r['first_tenth']):>14} {ms(r['last_tenth']):>13}")
    print(f"sustained {r['sustained_per_s']:.1f} solves/s (first solve to last mail)")
    print("memory after the run: " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in r["memory"].items()))
    print(f"machine busy {r['machine_busy']:.0%} of its cores from the first solve to the last mail")
    print("SQL per solve: " + ", ".join(f"{k} {v['statements']:.1f} statements in {v['transactions']:.1f} "
                                        f"transactions" for k, v in r["sql_per_solve"].items()))
    tasks = r["sql_per_solve"].get("ces worker", {})
    print("worker CPU per solve by task: " + ", ".join(
        f"{k[4:]} {v * 1000:.1f} ms ({tasks.get('runs ' + k[4:], 0):.2f} runs)" for k, v in tasks.items()
        if k.startswith("cpu ")))
    print("CPU per solve: " + ", ".join(f"{k} {v:,.1f} ms" for k, v in r["cpu_ms_per_solve"].items()))
    print(f"PostgreSQL (the backends of this database) {r['services']['postgres_ms']:.1f} ms CPU per solve; "
          f"Redis {r['services']['redis_commands']:.0f} commands per solve (all clients of the shared Redis)")
    print(f"helpdesk API calls per solve: {r['api_calls']:.2f} (the survey's ticket read, and the signals' history)")
    ces_ms = sum(v for k, v in r["cpu_ms_per_solve"].items() if k.startswith("ces "))
    print(f"floor (bench/e2e_floor.py, the same run): {r['floor_ms']:.1f} ms CPU per solve; the ces processes "
          f"{ces_ms:.1f} ms, {ces_ms / r['floor_ms']:.1f}× the floor")
    print(json.dumps({k: v for k, v in r.items() if k not in ("memory", "cpu_ms_per_solve", "machine_busy", "sql_per_solve", "floor_ms", "sustained_per_s", "services", "api_calls")}))


if __name__ == "__main__":
    main()
