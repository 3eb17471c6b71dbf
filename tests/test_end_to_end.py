"""The whole pipeline with real processes: `ces serve`, `ces worker` (Celery on Redis) and
`ces scheduler` against a simulated Zendesk (a local server speaking its API, called by the
worker from another process), a real SMTP server, and a click on the link in the mail."""

from __future__ import annotations

import json
import re
import statistics
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.alerts_data import LEAD_MAIL, NOTE, SLACK_ROUTE, alerts_section
from tests.support import BROWSER, POSTGRESQL_ONLY, Service, wait_until

pytestmark = [pytest.mark.slow, POSTGRESQL_ONLY]


@pytest.fixture
def service(config, zendesk, sink, app_port, tmp_path):
    config.write(smtp_port=sink.port, zendesk_url=zendesk.url)
    zendesk.webhook_url = f"http://127.0.0.1:{app_port}/webhooks/zendesk-main"
    svc = Service(config.env(), app_port, tmp_path).start(["serve", "--port", str(app_port)], ["worker"], ["scheduler"])
    try:
        svc.wait_ready()
        yield svc
    finally:
        svc.stop()


def link_in(mail, score: int) -> str:
    text = mail.get_body(("plain",)).get_content()
    return re.search(rf"(http://\S+/s/[\w-]+/{score})\b", text).group(1)


def test_from_signed_webhook_to_clicked_link_to_report(service, zendesk, sink):
    agent = zendesk.add_user("Priya Patel", "priya@acme.test", role="agent")
    group = zendesk.add_group("Billing")
    latencies = []
    tickets = []
    for i in range(20):
        customer = zendesk.add_user(f"Customer {i}", f"customer{i}@example.com", locale="en-US")
        ticket = zendesk.create_ticket(customer, f"Question {i}", group_id=group, assignee_id=agent)
        tickets.append(ticket)
        started = time.perf_counter()
        [resp] = zendesk.set_status(ticket.id, "solved", style="event" if i % 2 else "trigger")
        assert resp.status_code == 202 and resp.json() == {"status": "accepted", "events": 1}
        wait_until(lambda n=i + 1: len(sink.messages) == n, 15, 0.005, f"mail {i + 1}")
        latencies.append(time.perf_counter() - started)
    median = statistics.median(latencies)
    print(f"\nwebhook -> mail accepted by SMTP, median of 20: {median * 1000:.0f} ms "
          f"(min {min(latencies) * 1000:.0f}, max {max(latencies) * 1000:.0f})")

    # Zendesk retries a delivery (same invocation id) and the trigger tells the same solve again.
    last = zendesk.deliveries[-1]
    [again] = zendesk.deliver(last["body"], invocation=last["invocation"])
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    [other_way] = zendesk.deliver({"ces_event": "ticket.solved", "ticket_id": str(tickets[0].id)})
    assert other_way.status_code == 202
    time.sleep(1.5)
    assert len(sink.messages) == 20  # still one survey per solve

    mail = sink.messages[0]
    assert mail["To"] == "Customer 0 <customer0@example.com>"
    page = requests.get(link_in(mail, 2), headers=BROWSER, timeout=10)
    assert page.status_code == 200 and "What made it hard?" in page.text
    token_url = link_in(mail, 2).rsplit("/", 1)[0]
    saved = requests.post(token_url, data={"score": "2", "comment": "Transferred twice."}, headers=BROWSER,
                          timeout=10)
    assert saved.status_code == 200 and "saved" in saved.text
    second = link_in(sink.messages[1], 6)
    requests.get(second, headers=BROWSER, timeout=10)
    # what the thank-you page's script sends when the customer moves the mouse
    requests.post(second.rsplit("/", 1)[0], data={"score": "6", "confirm": "1"}, headers=BROWSER, timeout=10)

    done = service.cli("report", "--format", "json")
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)["rows"]
    assert row == {"surveys_sent": 20, "responses": 2, "response_rate": 0.1, "ces": 0.5, "mean": 4.0}
    listing = service.cli("surveys", "--failed", "--format", "json")
    assert json.loads(listing.stdout) == []


def test_a_hard_interaction_is_flagged_high_effort_with_its_reasons(service, zendesk, sink):
    billing, tier2 = zendesk.add_group("Billing"), zendesk.add_group("Tier 2")
    tom = zendesk.add_user("Tom Becker", "tom@acme.test", role="agent")
    lina = zendesk.add_user("Lina Chen", "lina@acme.test", role="agent")
    ana = zendesk.add_user("Ana Souza", "ana@example.com", locale="en-US")
    # Two days ago Ana asked in chat; that ticket was never solved through us.
    zendesk.create_ticket(ana, "Refund?", channel="chat", group_id=billing,
                          created_at=datetime.now(timezone.utc) - timedelta(days=2))
    ticket = zendesk.create_ticket(ana, "Refund still missing", channel="email", group_id=billing, assignee_id=tom)
    zendesk.comment(ticket.id, tom, "Let me check with billing.")
    zendesk.assign(ticket.id, by=tom, group_id=tier2, assignee_id=lina)
    zendesk.comment(ticket.id, ana, "I already explained all this.", channel="email")
    [resp] = zendesk.set_status(ticket.id, "solved")
    assert resp.status_code == 202
    wait_until(lambda: len(sink.messages) == 1, 15, message="the survey")
    low = link_in(sink.messages[0], 2)
    requests.get(low, headers=BROWSER, timeout=10)
    requests.post(low.rsplit("/", 1)[0], data={"score": "2", "comment": "Transferred and had to come back."},
                  headers=BROWSER, timeout=10)
    zendesk.set_status(ticket.id, "open")  # she wrote back: reopened
    zendesk.set_status(ticket.id, "solved")

    def flagged():
        done = service.cli("flags", "--format", "json")
        rows = json.loads(done.stdout) if done.returncode == 0 else []
        return rows and rows[0]["reasons"][:1] == ["low_answer"] and "reopened" in rows[0]["reasons"] and rows[0]

    flag = wait_until(flagged, 20, 0.3, "the high-effort flag")
    assert flag["ticket_id"] == str(ticket.id) and flag["level"] == "high" and flag["basis"] == "survey"
    assert {"low_answer", "group_transfers", "reopened", "repeat_contact", "channel_switch"} <= set(flag["reasons"])
    assert "transferred once: Billing → Tier 2" in flag["why"] and "switched channels: chat → email" in flag["why"]
    assert len(sink.messages) == 1  # solved again after the reopen: no second survey (resurvey_after_reopen)


@pytest.fixture
def slack_stub():
    from ces.connectors.simulator import StubResponse, StubServer

    stub = StubServer().start()
    stub.route("POST", r"/services/T0001/B0001/[\w]+")(lambda req: StubResponse(200, "ok"))
    yield stub
    stub.stop()


def test_a_low_click_alerts_every_route_once_then_follows_up_a_change(config, zendesk, sink, app_port, tmp_path,
                                                                       slack_stub, monkeypatch):
    monkeypatch.setenv("TEST_SLACK_URL", f"{slack_stub.url}/services/T0001/B0001/secretpart")
    config.write(smtp_port=sink.port, zendesk_url=zendesk.url, extra=alerts_section(2, {"note": NOTE, "slack": SLACK_ROUTE, "lead": LEAD_MAIL}))
    zendesk.webhook_url = f"http://127.0.0.1:{app_port}/webhooks/zendesk-main"
    service = Service(config.env(), app_port, tmp_path).start(["serve", "--port", str(app_port)], ["worker"],
                                                            ["scheduler"])
    with service.running():
        service.wait_ready()
        agent = zendesk.add_user("Priya Patel", "priya@acme.test", role="agent")
        customer = zendesk.add_user("Ana Souza", "ana@example.com", locale="en-US")
        ticket = zendesk.create_ticket(customer, "Refund missing", assignee_id=agent)
        [solved] = zendesk.set_status(ticket.id, "solved")
        wait_until(lambda: len(sink.messages) == 1, 15, message="the survey")
        zendesk.deliver(zendesk.deliveries[-1]["body"], invocation=zendesk.deliveries[-1]["invocation"])  # a retry
        low = link_in(sink.messages[0], 2)
        requests.get(low, headers=BROWSER, timeout=10)
        requests.post(low.rsplit("/", 1)[0], data={"score": "2", "confirm": "1"}, headers=BROWSER, timeout=10)

        def notes():
            return [c for c in zendesk.tickets[ticket.id].comments if c.get("public") is False]

        wait_until(lambda: len(notes()) == 1 and slack_stub.count("POST") == 1 and len(sink.messages) == 2, 20,
                   0.1, "one note, one Slack message, one e-mail")
        assert "Answer: 2 of 7 (Disagree)" in notes()[0]["body"]
        assert sink.messages[1]["To"] == "lead@acme.test"
        time.sleep(2.5)  # settle again: nothing new without a change
        assert (len(notes()), slack_stub.count("POST"), len(sink.messages)) == (1, 1, 2)
        # The customer changes the answer: one follow-up per route.
        requests.post(low.rsplit("/", 1)[0], data={"score": "5", "comment": "Sorted out after all."},
                      headers=BROWSER, timeout=10)
        wait_until(lambda: len(notes()) == 2 and slack_stub.count("POST") == 2 and len(sink.messages) == 3, 20,
                   0.1, "one follow-up per route")
        assert "What changed: score changed from 2 to 5; new comment" in notes()[1]["body"]
        time.sleep(2.5)
        assert (len(notes()), slack_stub.count("POST"), len(sink.messages)) == (2, 2, 3)
        assert json.loads(service.cli("alerts", "--failed", "--format", "json").stdout) == []
