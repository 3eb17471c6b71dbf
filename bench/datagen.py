"""A generated helpdesk: tickets with realistic normalized histories, solves, surveys and answers,
loaded into PostgreSQL with COPY (one process per id range).

Histories are what `collect` stores (TicketHistory.model_dump(mode="json")): 10–30 entries of
status, group and assignee changes, customer and agent messages with their channels, internal
notes, our own notes (actor "us", never counted), transfers, reopens, channel switches, duplicate
entries from webhooks, a few histories that could not be read (counters stand in), and the
requester's other contacts (repeat contacts before and after the solve).

Every ticket whose id is a multiple of `every` (5) has a sent survey with a confirmed answer (so
the number of answers is exact); three in ten of the others have a survey without one (sent, some
failed, uncertain or skipped); the rest were never surveyed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson
import psycopg

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPAN_DAYS = 320  # tickets created from 1 January to mid-November 2026
CONNECTORS = (("zendesk-main", 0.6), ("freshdesk-eu", 0.25), ("intercom", 0.15))
CHANNELS = (("email", 0.45), ("web", 0.15), ("chat", 0.2), ("messaging", 0.08), ("phone", 0.07), ("social", 0.05))
# Mean seconds to an agent reply, by channel (exponential): some breach their target, most do not.
REPLY_MEAN = {"email": 6 * 3600, "web": 8 * 3600, "chat": 25, "messaging": 200, "phone": 120, "social": 2400}
CUSTOMER_MEAN = {"email": 5 * 3600, "web": 6 * 3600, "chat": 40, "messaging": 300, "phone": 300, "social": 3600}
GROUPS = ("Billing", "Tier 1", "Tier 2", "Shipping", "Returns", "Accounts", "Technical", "VIP")
AGENTS = tuple(f"agent{i:03d}" for i in range(120))
SUBJECTS = ("Refund not received", "Cannot log in", "Where is my order?", "Invoice address wrong",
            "App crashes on start", "Change my plan", "Damaged parcel", "Password reset mail missing")


def _pick(rnd: random.Random, weighted) -> str:
    x, acc = rnd.random(), 0.0
    for value, w in weighted:
        acc += w
        if x < acc:
            return value
    return weighted[-1][0]


def iso(dt: datetime) -> str:
    return dt.isoformat()[:19] + "Z"  # as pydantic writes an aware UTC datetime (whole seconds here)


def ticket_data(tid: int, rnd: random.Random) -> dict:
    """One ticket: its row values, stored history and contacts, and whether it was hard."""
    connector = _pick(rnd, CONNECTORS)
    channel = _pick(rnd, CHANNELS)
    created = START + timedelta(seconds=rnd.randrange(SPAN_DAYS * 86400))
    customer = rnd.randrange(600_000)
    entries: list[dict] = []
    with_source = connector == "zendesk-main"  # Zendesk audits have ids; webhook-told entries do not

    def add(at, kind, actor, value=None, previous=None, ch=None):
        entries.append({"at": iso(at), "kind": kind, "actor": actor, "value": value, "previous": previous,
                        "channel": ch, "source_id": f"{tid}{len(entries):02d}" if with_source else None})

    t = created
    add(t, "status", "customer", "new")
    add(t, "message", "customer", ch=channel)
    group = rnd.choice(GROUPS)
    add(t + timedelta(seconds=5), "group", "system", group)
    add(t + timedelta(seconds=6), "status", "system", "open", "new")
    agent = rnd.choice(AGENTS)
    t += timedelta(seconds=rnd.randrange(10, 600) if channel not in ("chat", "phone") else rnd.randrange(2, 20))
    add(t, "assignee", "agent", agent)
    hard = rnd.random() < 0.25
    exchanges = rnd.randint(2, 4) + (rnd.randint(1, 4) if hard else 0)
    status = "open"
    transfers = 0
    for i in range(exchanges):
        if len(entries) > 21:
            break
        t += timedelta(seconds=int(rnd.expovariate(1 / (REPLY_MEAN[channel] * (2.5 if hard else 1)))) + 1)
        add(t, "message", "agent", ch=channel)
        if rnd.random() < 0.15:
            add(t + timedelta(seconds=30), "note", "agent")
        if rnd.random() < 0.05:
            add(t + timedelta(seconds=31), "note", "us")  # our own API user: never counted
        if rnd.random() < (0.3 if hard else 0.06) and transfers < 3:
            transfers += 1
            how = rnd.random()  # to another team and agent, to another team, or handed to a colleague
            if how < 0.7:
                new_group = rnd.choice([g for g in GROUPS if g != group])
                add(t + timedelta(seconds=60), "group", "agent", new_group, group)
                group = new_group
            if how < 0.4 or how >= 0.7:
                new_agent = AGENTS[(AGENTS.index(agent) + rnd.randrange(1, len(AGENTS))) % len(AGENTS)]
                add(t + timedelta(seconds=61), "assignee", "agent", new_agent, agent)
                agent = new_agent
        if i == exchanges - 1:
            break
        if rnd.random() < 0.3:
            add(t + timedelta(seconds=2), "status", "agent", "pending", status)
            status = "pending"
        t += timedelta(seconds=int(rnd.expovariate(1 / CUSTOMER_MEAN[channel])) + 1)
        switch = rnd.random() < (0.15 if hard else 0.03)
        add(t, "message", "customer", ch=rnd.choice(("email", "chat", "phone", "messaging")) if switch else channel)
        if status == "pending":
            add(t + timedelta(seconds=1), "status", "system", "open", "pending")
            status = "open"
    t += timedelta(seconds=rnd.randrange(60, 7200))
    add(t, "status", "agent", "solved", status)
    solved, first_solved, solves = t, t, 1
    if rnd.random() < (0.3 if hard else 0.05):  # reopened: the customer wrote again
        t += timedelta(seconds=rnd.randrange(3600, 3 * 86400))
        add(t, "message", "customer", ch=channel)
        add(t + timedelta(seconds=1), "status", "customer", "open", "solved")
        t += timedelta(seconds=int(rnd.expovariate(1 / REPLY_MEAN[channel])) + 1)
        add(t, "message", "agent", ch=channel)
        t += timedelta(seconds=rnd.randrange(60, 3600))
        add(t, "status", "agent", "solved", "open")
        solved, solves = t, 2
    if not with_source and rnd.random() < 0.2:  # told by a webhook and by the API: a duplicate
        entries.append(dict(rnd.choice(entries)))
    if rnd.random() < 0.1:  # stored in the helpdesk's order, not ours
        rnd.shuffle(entries)
    counters: dict = {}
    missing: list[str] = []
    if connector == "zendesk-main":
        counters = {"group_stations": float(transfers + 1), "assignee_stations": float(transfers + 1),
                    "reopens": float(solves - 1), "first_reply_minutes": 12.0, "requester_wait_minutes": 30.0}
        if rnd.random() < 0.01:  # the audits could not be read: the metrics stand in
            entries, missing = [], ["audits: 403 Forbidden"]
    requester = {"id": f"u{customer}", "email": f"customer{customer}@example.com", "name": f"Customer {customer}",
                 "locale": "en", "time_zone": None}
    ext = str(100000 + tid)
    ticket = {"id": ext, "status": "solved", "subject": rnd.choice(SUBJECTS), "requester": requester,
              "assignee": agent, "group": group, "brand": None, "organization": None, "channel": channel,
              "raw_channel": channel, "tags": ["bench"] + (["vip"] if rnd.random() < 0.05 else []),
              "created_at": iso(created), "updated_at": iso(solved), "url": f"https://helpdesk.example/t/{ext}",
              "merged": False}
    contacts = []
    if with_source:  # the helpdesk lists the requester's recent tickets, this one included
        contacts.append({"connector": connector, "id": ext, "created_at": iso(created), "channel": channel})
    if rnd.random() < (0.35 if hard else 0.08):
        for _ in range(rnd.randint(1, 3)):
            other = created - timedelta(seconds=rnd.randrange(3600, 10 * 86400))
            contacts.append({"connector": _pick(rnd, CONNECTORS), "id": str(rnd.randrange(10**6, 10**7)),
                             "created_at": iso(other), "channel": _pick(rnd, CHANNELS)})
    if rnd.random() < (0.15 if hard else 0.03):  # came back after the solve
        after = solved + timedelta(seconds=rnd.randrange(3600, 9 * 86400))
        contacts.append({"connector": connector, "id": str(rnd.randrange(10**6, 10**7)), "created_at": iso(after),
                         "channel": _pick(rnd, CHANNELS)})
    history = {"ticket": ticket, "entries": entries, "counters": counters, "missing": missing}
    return dict(tid=tid, connector=connector, ext=ext, channel=channel, created=created, solved=solved,
                first_solved=first_solved, solves=solves, customer=customer, history=history, contacts=contacts,
                hard=hard or transfers > 1, agent=agent, group=group)


def _ts(dt: datetime | None) -> str:
    return "\\N" if dt is None else dt.isoformat()


def _json(value) -> str:
    return orjson.dumps(value).decode().replace("\\", "\\\\")


def _line(*values) -> str:
    return "\t".join("\\N" if v is None else (_ts(v) if isinstance(v, datetime) else str(v)) for v in values) + "\n"


def load_range(url: str, lo: int, hi: int, every: int = 5, seed: int = 7) -> int:
    """Tickets lo..hi-1 with everything that hangs off them: every `every`-th ticket has a confirmed
    answer, three in ten of the others a survey without one. Returns how many answers."""
    rnd = random.Random(seed * 1_000_003 + lo)
    answers = 0
    with psycopg.connect(url) as conn:
        step = 20_000
        for a in range(lo, hi, step):
            b = min(hi, a + step)
            tickets, histories, solves, surveys, answer_rows = [], [], [], [], []
            for tid in range(a, b):
                d = ticket_data(tid, rnd)
                solved, created = d["solved"], d["created"]
                tickets.append(_line(tid, d["connector"], d["ext"], "solved", solved, d["solves"], d["solves"],
                                     d["solves"] - 1, created, solved, f"{d['customer']:064x}", d["channel"],
                                     created, solved))
                histories.append(_line(tid, solved + timedelta(minutes=2), _json(d["history"]), _json(d["contacts"])))
                solves.append(_line(2 * tid, tid, 1, d["first_solved"], None,
                                    d["solved"] - timedelta(hours=1) if d["solves"] == 2 else None))
                if d["solves"] == 2:
                    solves.append(_line(2 * tid + 1, tid, 2, solved, None, None))
                kind = 0 if tid % every == 0 else (1 if rnd.random() < 0.3 else 2)
                if kind in (0, 1):
                    solve_id = 2 * tid + d["solves"] - 1
                    effort5 = rnd.random() < 0.1
                    state = "sent" if kind == 0 else _pick(rnd, (("sent", 0.9), ("failed", 0.03),
                                                                  ("uncertain", 0.02), ("skipped", 0.05)))
                    sent_at = solved + timedelta(hours=1) if state in ("sent", "uncertain") else None
                    surveys.append(_line(tid, solve_id, d["connector"], d["ext"], f"tok{tid:012d}", state,
                                         "effort5" if effort5 else "ces7", "en", d["channel"], d["agent"], d["group"],
                                         solved + timedelta(hours=1), 1 if sent_at else 0, solved, sent_at,
                                         f"{d['customer']:064x}"))
                    if kind == 0:
                        answers += 1
                        points = 5 if effort5 else 7
                        mean = (0.35 if d["hard"] else 0.8) * (points - 1) + 1
                        score = max(1, min(points, round(rnd.gauss(mean, 1.2))))
                        if effort5:
                            score = points + 1 - score  # effort5: lower is better
                        at = sent_at + timedelta(minutes=rnd.randrange(1, 2000))
                        answer_rows.append(_line(tid, tid, "effort5" if effort5 else "ces7", score, at, at, 0,
                                                 "confirmed", at, "form"))
            with conn.cursor() as cur:
                for table, cols, rows in (
                    ("tickets", "id, connector_id, external_id, status, status_at, solve_count, open_solve, "
                                "reopen_count, created_at, updated_at, requester_hash, channel, opened_at, "
                                "last_solved_at", tickets),
                    ("ticket_histories", "ticket_pk, fetched_at, history, contacts", histories),
                    ("solves", "id, ticket_pk, number, solved_at, event_id, reopened_at", solves),
                    ("surveys", "id, solve_id, connector_id, ticket_external_id, token, state, scale, locale, "
                                "channel, assignee, group_name, send_after, attempts, created_at, sent_at, "
                                "email_hash", surveys),
                    ("answers", "id, survey_id, scale, score, answered_at, updated_at, changes, state, "
                                "confirmed_at, via", answer_rows),
                ):
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        copy.write("".join(rows))
            conn.commit()
    return answers


def finish(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("tickets", "solves", "surveys", "answers"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
