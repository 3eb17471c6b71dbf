"""Scale-out shown: two `ces worker` processes on one database and one broker, a burst of solves,
every survey sent exactly once, and both workers doing a share of them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.support import POSTGRESQL_ONLY, Service, wait_until

pytestmark = [pytest.mark.slow, POSTGRESQL_ONLY]
BURST = 40


@pytest.fixture
def two_workers(config, zendesk, sink, app_port, tmp_path):  # noqa: F811
    config.write(smtp_port=sink.port, zendesk_url=zendesk.url)
    zendesk.webhook_url = f"http://127.0.0.1:{app_port}/webhooks/zendesk-main"
    env = dict(config.env(), CES_LOG_LEVEL="INFO")  # each worker logs the surveys it sent
    svc = Service(env, app_port, tmp_path).start(["serve", "--port", str(app_port)], ["worker"], ["worker"],
                                                 ["scheduler"])
    try:
        svc.wait_ready()
        yield svc
    finally:
        svc.stop()


def test_two_workers_send_a_burst_of_surveys_each_exactly_once(two_workers, zendesk, sink, db_url, tmp_path):  # noqa: F811
    agent = zendesk.add_user("Priya Patel", "priya@acme.test", role="agent")
    tickets = [zendesk.create_ticket(zendesk.add_user(f"Customer {i}", f"c{i}@example.com", locale="en-US"),
                                     f"Question {i}", assignee_id=agent) for i in range(BURST)]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda t: zendesk.set_status(t.id, "solved")[0].status_code, tickets))
    assert statuses == [202] * BURST
    wait_until(lambda: len(sink.messages) >= BURST, 90, 0.1, f"{BURST} mails")
    wait_until(lambda: _states(db_url) == {"sent": BURST}, 15, 0.1, "every survey recorded as sent")
    recipients = sorted(m["To"].addresses[0].addr_spec for m in sink.messages)
    assert recipients == sorted(f"c{i}@example.com" for i in range(BURST))  # each once, none twice
    sent_by = [log.read_text().count("survey_sent") for log in sorted(tmp_path.glob("worker-*.log"))]
    assert len(sent_by) == 2 and sum(sent_by) == BURST and min(sent_by) > 0, sent_by


def _states(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM surveys GROUP BY state").fetchall())
