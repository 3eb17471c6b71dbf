"""The floor of the end-to-end benchmark: only a solve's irreducible work, in one process, against
the same simulated Zendesk, SMTP sink and PostgreSQL as the run it follows (bench/e2e.py starts it):
per solve two helpdesk reads on a kept HTTP connection (the ticket with its users, and its
metrics), one render of the survey mail (text and HTML, ces's own templates), one SMTP hand-over on
a kept connection, and three single-row updates (claim, `sending`, outcome), each committed.

    python bench/e2e_floor.py ZENDESK_URL SMTP_PORT DATABASE_URL TICKET_ID... → JSON on stdout
"""

from __future__ import annotations

import json
import resource
import smtplib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ces.worker.surveys.render import SurveyMail, render  # noqa: E402
from ces.worker.surveys.scales import scale_of  # noqa: E402

THREADS = 8
_local = threading.local()


def _kept(zendesk: str, smtp_port: int, db: str):
    if not hasattr(_local, "http"):
        _local.http = requests.Session()
        _local.http.auth = ("bench@acme.test/token", "tok")
        _local.smtp = smtplib.SMTP("127.0.0.1", smtp_port)
        _local.db = psycopg.connect(db, autocommit=True)
    return _local.http, _local.smtp, _local.db


def solve(zendesk: str, smtp_port: int, db: str, ticket_id: int) -> None:
    http, smtp, conn = _kept(zendesk, smtp_port, db)
    conn.execute("UPDATE floor_rows SET state = 'preparing', at = now() WHERE id = %s", (ticket_id,))
    data = http.get(f"{zendesk}/api/v2/tickets/{ticket_id}.json", params={"include": "users,groups,organizations"},
                    timeout=10).json()
    http.get(f"{zendesk}/api/v2/tickets/{ticket_id}/metrics.json", timeout=10).json()
    user = next(u for u in data["users"] if u["id"] == data["ticket"]["requester_id"])
    mail = SurveyMail(to_email=user["email"], to_name=user["name"], ticket_id=str(ticket_id),
                      subject_line=data["ticket"]["subject"], token=f"t{ticket_id}", scale=scale_of("ces7"),
                      locale="en", company="Acme", public_url="http://127.0.0.1",
                      expires_at=datetime.now(timezone.utc) + timedelta(days=28))
    ctx = mail.context()
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = mail.subject(), "Bench <bench@acme.test>", user["email"]
    msg.set_content(render("email.txt", "en", **ctx))
    msg.add_alternative(render("email.html", "en", **ctx), subtype="html")
    conn.execute("UPDATE floor_rows SET state = 'sending', at = now() WHERE id = %s", (ticket_id,))
    smtp.send_message(msg)
    conn.execute("UPDATE floor_rows SET state = 'sent', at = now() WHERE id = %s", (ticket_id,))


def main() -> None:
    zendesk, smtp_port, db, *tickets = sys.argv[1:]
    ids = [int(t) for t in tickets]
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS floor_rows (id bigint PRIMARY KEY, state text, at timestamptz)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO floor_rows (id) VALUES (%s) ON CONFLICT DO NOTHING", [(i,) for i in ids])
    solve(zendesk, int(smtp_port), db, ids[0])  # warm: imports, templates, connections
    before = resource.getrusage(resource.RUSAGE_SELF)
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda i: solve(zendesk, int(smtp_port), db, i), ids[1:]))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"solves": len(ids) - 1, "cpu_ms_per_solve": cpu * 1000 / (len(ids) - 1)}))


if __name__ == "__main__":
    main()
