"""The demo: the real service (HTTP server, Celery worker, scheduler; SQLite and the local Redis)
against a simulated Zendesk that solves a few dozen realistic tickets and a local mail sink.
Some customers answer, as customers do; then it prints `ces report`."""

from __future__ import annotations

import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import redis
import requests
from sqlalchemy import func, select

from ces.config import load_settings
from ces.connectors.zendesk.simulator import ZendeskSimulator
from ces.worker.db.models import Alert, Answer, AnswerState, Job, Survey, SurveyState
from ces.worker.demo.processes import stop
from ces.worker.demo.smtp_sink import MailSink
from ces.worker.queries.flags import flags
from ces.worker.queries.formats import table
from ces.worker.queries.reports import ces_report, default_range
from ces.worker.queries.scope import Scope
from ces.worker.runtime import Runtime

CUSTOMERS = [
    ("Maria Garcia", "maria.garcia@example.com", "es", "email"),
    ("James Smith", "james.smith@example.com", "en-US", "email"),
    ("Sophie Martin", "sophie.martin@example.fr", "fr", "web"),
    ("Lukas Müller", "lukas.mueller@example.de", "de", "email"),
    ("Giulia Rossi", "giulia.rossi@example.it", "it", "chat"),
    ("Ana Souza", "ana.souza@example.com.br", "pt-BR", "native_messaging"),
    ("Daan de Vries", "daan@example.nl", "nl", "email"),
    ("Andrei Popescu", "andrei.popescu@example.ro", "ro", "email"),
    ("Olga Ivanova", "olga@example.ru", "ru", "web"),
    ("Piotr Kowalski", "piotr@example.pl", "pl", "email"),
    ("Ayşe Yılmaz", "ayse@example.com.tr", "tr", "chat"),
    ("Li Wei", "li.wei@example.cn", "zh-CN", "email"),
    ("Yuki Tanaka", "yuki.tanaka@example.jp", "ja", "email"),
    ("Min-jun Kim", "minjun@example.kr", "ko", "native_messaging"),
    ("Omar Haddad", "omar@example.ae", "ar", "email"),
    ("Noa Levi", "noa@example.co.il", "he", "web"),
    ("Emily Johnson", "emily.j@example.com", "en-GB", "email"),
    ("Michael Brown", "m.brown@example.com", "en-US", "voice"),
    ("Sarah Davis", "sarah.davis@example.com", "en-US", "email"),
    ("David Wilson", "david.wilson@example.com", "en-US", "chat"),
]
SUBJECTS = [
    "Charged twice for my subscription", "Cannot reset my password", "Order #48213 has not arrived",
    "How do I export my invoices?", "App crashes when I upload a photo", "Change the billing address",
    "Refund for a cancelled order", "Two-factor code never arrives", "Upgrade to the annual plan",
    "Wrong item in my parcel", "Account locked after too many attempts", "Invoice shows the wrong VAT number",
]
SCORES = [1, 2, 3, 4, 5, 6, 7]
WEIGHTS = [5, 6, 8, 9, 17, 28, 27]
COMMENTS = {
    "low": ["I had to explain the problem three times.", "I was transferred between teams twice.",
            "It took a week and two reminders."],
    "high": ["Quick and friendly, thanks!", "Solved in one reply.", "Great help from the agent."],
}


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _write_config(path: Path, *, port: int, sim: ZendeskSimulator, sink: MailSink, prefix: str) -> None:
    path.write_text(f"""# Written by `ces demo`.
public_url = "http://127.0.0.1:{port}"
database_url = "sqlite:///{path.parent / 'ces.db'}"
broker_prefix = "{prefix}"
queue = "ces-demo"
log_level = "WARNING"

[smtp]
host = "{sink.host}"
port = {sink.port}
sender = "Acme Support <support@acme.test>"

[survey]
company = "Acme"

[worker]
sweep_interval_seconds = 0.5
requeue_after_seconds = 5
concurrency = 4

[demo]
mail_dir = "{path.parent / 'mail'}"

[alerts]
settle_seconds = 1

[[alerts.routes]]
name = "team-lead"
type = "email"
to = ["lead@acme.test"]

[[alerts.routes]]
name = "note"
type = "note"

[[connectors]]
id = "zendesk-demo"
kind = "zendesk"
base_url = "{sim.url}"
email = "{sim.email}"
api_token_env = "CES_DEMO_ZENDESK_TOKEN"
webhook_secret_env = "CES_DEMO_ZENDESK_SECRET"
api_user_id = "{sim.api_user_id}"
""", encoding="utf-8")


def _wait_ready(url: str, children: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            raise RuntimeError("a demo process stopped while starting (see the messages above)")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError("the demo server did not become ready in time")


def _scenario(sim: ZendeskSimulator, count: int, rng: random.Random) -> int:
    """Solve `count` tickets the ways Zendesk tells it; returns how many surveys should go out."""
    groups = [sim.add_group(g) for g in ("Billing", "Technical Support", "Tier 2")]
    agents = [sim.add_user(n, e, role="agent") for n, e in
              (("Priya Patel", "priya@acme.test"), ("Tom Becker", "tom@acme.test"), ("Lina Chen", "lina@acme.test"))]
    no_email = sim.add_user("Caller without e-mail", None, locale="en-US")
    expected = 0
    for i in range(count):
        if i == count - 1:
            ticket = sim.create_ticket(no_email, "Phone call about delivery", channel="voice", group_id=groups[0],
                                       assignee_id=agents[0])
            sim.set_status(ticket.id, "solved")
            continue
        name, email, locale, channel = CUSTOMERS[i % len(CUSTOMERS)]
        if i >= len(CUSTOMERS):
            local, _, domain = email.partition("@")
            email = f"{local}+{i}@{domain}"
        requester = sim.add_user(name, email, locale=locale)
        agent = agents[i % len(agents)]
        if i % 5 == 2:  # asked in chat first, came back by e-mail
            sim.create_ticket(requester, "Quick question", channel="chat", group_id=groups[0],
                              created_at=datetime.now(timezone.utc) - timedelta(days=2))
        ticket = sim.create_ticket(requester, SUBJECTS[i % len(SUBJECTS)], channel=channel,
                                   group_id=groups[i % len(groups)], assignee_id=agent)
        sim.comment(ticket.id, agent, "Thanks for reaching out, let me check.")
        if i % 4 == 1:  # handed to another team
            sim.assign(ticket.id, by=agent, group_id=groups[2], assignee_id=agents[(i + 1) % len(agents)])
            sim.comment(ticket.id, requester, "I already explained this to your colleague.", channel=channel)
        style = "event" if i % 2 == 0 else "trigger"
        if i % 7 == 3:
            sim.set_status(ticket.id, "pending", style=style)  # waiting on the customer first
        deliveries = 2 if i % 9 == 4 else 1  # Zendesk retried a delivery: same invocation id
        sim.set_status(ticket.id, "solved", style=style, deliveries=deliveries)
        if i % 11 == 5:  # the same solve told by both a trigger and the event subscription
            sim.deliver({"ces_event": "ticket.solved", "ticket_id": str(ticket.id), "status": "Solved"})
        expected += 1
    return expected


def _settle(rt, expected: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        with rt.transaction() as s:
            counts = dict(s.execute(select(Survey.state, func.count()).group_by(Survey.state)).all())
        if counts.get(SurveyState.SENT, 0) >= expected and not any(counts.get(st) for st in SurveyState.OPEN):
            break
        time.sleep(0.3)
    return counts


BROWSER = {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                         "Version/18.1 Safari/605.1.15"}


def _settle_alerts(rt, timeout: float) -> None:
    """Wait until the answers have settled and the follow-up work (signals, alerts) is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt.transaction() as s:
            busy = s.scalar(select(func.count()).select_from(Job).where(Job.kind != "recheck"))
            provisional = s.scalar(select(func.count()).select_from(Answer)
                                   .where(Answer.state == AnswerState.PROVISIONAL))
            sending = s.scalar(select(func.count()).select_from(Alert).where(Alert.state.in_(["pending", "sending"])))
        if not busy and not provisional and not sending:
            return
        time.sleep(0.3)


def _answer(sink: MailSink, rng: random.Random) -> int:
    """Customers click an answer in the mail; their browser confirms it as they move on the page
    (what the thank-you page's script does); some write a comment."""
    answered = 0
    for msg in [m for m in sink.messages if str(m["To"]) != "lead@acme.test"]:
        if rng.random() > 0.62:
            continue  # most customers never answer
        text = msg.get_body(("plain",)).get_content()
        score = rng.choices(SCORES, WEIGHTS)[0]
        link = re.search(rf"(http://\S+/s/[A-Za-z0-9_-]+)/{score}\b", text)
        if not link:
            continue
        resp = requests.get(f"{link.group(1)}/{score}", headers=BROWSER, timeout=10)
        if resp.status_code == 200:
            answered += 1
            data = {"score": score, "confirm": "1"}
            if rng.random() < 0.4:
                data = {"score": score, "comment": rng.choice(COMMENTS["low" if score <= 3 else "high"])}
            requests.post(link.group(1), data=data, headers=BROWSER, timeout=10)
    return answered


def ces_command() -> str:
    """This very `ces`, as a shell runs it: the running executable's absolute path (it may not be
    on PATH, e.g. in a venv), else `python -m ces.worker.cli`."""
    argv0 = sys.argv[0]
    path = Path(argv0) if os.sep in argv0 else Path(shutil.which(argv0) or argv0)
    if path.suffix != ".py" and path.is_file() and os.access(path, os.X_OK):
        return shlex.quote(str(path.absolute()))
    return f"{shlex.quote(sys.executable)} -m ces.worker.cli"


def _cannot_start(broker: str, port: int) -> str | None:
    """Why the demo cannot start here (Redis not reachable, the port taken), or None."""
    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return (f"ces demo: Redis is not reachable at {broker}; start it (e.g. `redis-server --daemonize yes`) "
                "or set CES_BROKER_URL")
    if not _free(port):
        return f"ces demo: port {port} is in use; choose another with --port"
    return None


def _summary(rt: Runtime, sink: MailSink, counts: dict[str, int], answered: int) -> None:
    """What `ces report` and `ces flags` say once the customers have answered."""
    since, until = default_range(rt.now().date())
    result = ces_report(Scope.everything(), rt, since, until)
    flagged = flags(Scope.everything(), rt, level="high", limit=1000)
    surveys_mailed = [m for m in sink.messages if str(m["To"]) != "lead@acme.test"]
    print(f"{len(surveys_mailed)} survey e-mails received by the mail sink; {answered} customers answered. "
          f"Survey states: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}.")
    print()
    print(f"ces report ({result['since']} to {result['until']}, scale {result['scale']}):")
    print(table(result["rows"], ["surveys_sent", "responses", "response_rate", "ces", "mean"]))
    alert_mails = [m for m in sink.messages if str(m["To"]) == "lead@acme.test"]
    print(f"\n{len(flagged)} tickets flagged high effort (`ces flags`); {len(alert_mails)} follow-up alerts "
          "mailed to the team lead and noted on the tickets. Hardest first:")
    for f in sorted(flagged, key=lambda f: -f["index"])[:3]:
        print(f"  #{f['ticket_id']} effort {f['index']}: {f['why']}")


def _learned_model(rt: Runtime, rng: random.Random) -> None:
    """The months before: answered history (demo/history.py), then `ces model fit` and what
    `ces model show` says of it."""
    from ces.worker.cli.model import summary
    from ces.worker.demo.history import plant_history
    from ces.worker.model import store
    from ces.worker.model.adopt import apply

    planted = plant_history(rt, "zendesk-demo", rng)
    record = store.fit_and_keep(rt)
    count = apply(rt, record)
    print(f"\nThe learned effort model, fitted on the demo's {planted} answered surveys of the months before "
          f"and today's (`ces model fit`; `ces model show` for the whole picture):")
    print("\n".join(f"  {line}" for line in summary(record)))
    if count is not None:
        print(f"  re-assessed {count} tickets flagged by their signals alone")


def _play(sim: ZendeskSimulator, sink: MailSink, count: int, rng: random.Random) -> bool:
    """Tickets solved, surveys sent, customers answering, then the summary; False if surveys are missing."""
    expected = _scenario(sim, count, rng)
    rt = Runtime(load_settings())
    counts = _settle(rt, expected, timeout=60 + count)
    answered = _answer(sink, rng)
    _settle_alerts(rt, timeout=30)
    _summary(rt, sink, counts, answered)
    _learned_model(rt, rng)
    rt.close()
    if counts.get("sent", 0) < expected:
        print(f"ces demo: only {counts.get('sent', 0)} of {expected} surveys were sent", file=sys.stderr)
        return False
    return True


DEMO_LEAD = "lead@demo.example"


def _lead_link(cli: list[str], env: dict[str, str]) -> str:
    """A console account for a demo team lead (all teams), through `ces users add`: its one-time link."""
    made = subprocess.run(cli + ["users", "add", DEMO_LEAD, "--role", "lead", "--name", "Demo Lead"], env=env,
                          check=True, capture_output=True, text=True)
    return made.stdout.strip().splitlines()[-1]


def _keep_running(url: str, config: Path, lead_link: str) -> None:
    print(f"\nStill running. Mailbox: {url}/demo/mail · config: {config}\n"
          f"The console, as a team lead: open {lead_link} , choose a password, and sign in as {DEMO_LEAD}\n"
          f"Try: CES_CONFIG={shlex.quote(str(config))} {ces_command()} surveys · Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


def run_demo(*, keep: bool, port: int, tickets: int | None) -> int:
    count = max(2, tickets or 36)
    broker = os.environ.get("CES_BROKER_URL", "redis://localhost:6379/0")
    problem = _cannot_start(broker, port)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    # SIGTERM (a service manager, `kill`) stops the demo as Ctrl-C does: the finally below stops
    # the processes and removes the folder and the Redis keys.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="ces-demo-"))
    rng = random.Random(20261123)
    token, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    sink = MailSink(workdir / "mail").start()
    sim = ZendeskSimulator(token=token, secret=secret).start()
    sim.webhook_url = f"http://127.0.0.1:{port}/webhooks/zendesk-demo"
    config = workdir / "ces.toml"
    _write_config(config, port=port, sim=sim, sink=sink, prefix=f"ces-demo-{os.getpid()}:")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CES_")}
    env.update(CES_CONFIG=str(config), CES_BROKER_URL=broker, CES_DEMO_ZENDESK_TOKEN=token,
               CES_DEMO_ZENDESK_SECRET=secret)
    os.environ.update(env)
    cli = [sys.executable, "-m", "ces.worker.cli"]
    children: list[subprocess.Popen] = []
    try:
        subprocess.run(cli + ["migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        children = [subprocess.Popen(cli + args, env=env, stdout=subprocess.DEVNULL) for args in
                    (["serve", "--port", str(port)], ["worker"], ["scheduler"])]
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, children)
        print(f"Demo running at {url} (data in {workdir}). A simulated Zendesk solves {count} tickets...")
        ok = _play(sim, sink, count, rng)
        if keep:
            _keep_running(url, config, _lead_link(cli, env))
        return 0 if ok else 1
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"ces demo: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup short
        stop(children, grace=10)
        sim.stop()
        sink.stop()
        _flush_queue(broker, f"ces-demo-{os.getpid()}:")
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _flush_queue(broker: str, prefix: str) -> None:
    """Leave nothing of the demo in the shared Redis."""
    try:
        client = redis.Redis.from_url(broker, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
