"""The pipeline, as for Zendesk, on Freshdesk, Zammad and the generic connector: a signed (or
authenticated) webhook from a simulated helpdesk → a survey mail → a click → an effort assessment,
with `ces serve`, `ces worker` and `ces scheduler` as real processes calling the simulated API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

import pytest
import requests

from tests.conftest import connector_table
from tests.simulators.freshdesk import FreshdeskSimulator
from tests.simulators.generic import GenericSender
from tests.simulators.zammad import ZammadSimulator
from tests.support import BROWSER, POSTGRESQL_ONLY, Service, wait_until

pytestmark = [pytest.mark.slow, POSTGRESQL_ONLY]


@dataclass
class Helpdesk:
    connector: str  # the [[connectors]] table
    env: dict[str, str]  # the secrets it names
    solve: Callable[[str], object]  # customer e-mail → send the solve webhook(s); returns the responses
    stop: Callable[[], None]


def freshdesk(webhook_url: str) -> Helpdesk:
    sim = FreshdeskSimulator(api_key="fd-key", secret="fd-webhook-secret").start()
    sim.webhook_url = webhook_url
    billing, tier2 = sim.add_group("Billing"), sim.add_group("Tier 2")
    agent, other = sim.add_agent("Priya Patel", "priya@acme.test"), sim.add_agent("Lina Chen", "lina@acme.test")

    def solve(email: str):
        customer = sim.add_contact("Ana Souza", email)
        ticket = sim.create_ticket(customer, "Refund still missing", group_id=billing, responder_id=agent)
        sim.assign(ticket.id, group_id=tier2, responder_id=other)  # the second rule's webhook: a transfer
        return sim.set_status(ticket.id, 4)

    table = connector_table("freshdesk", base_url=sim.url, api_key_env="TEST_FD_KEY",
                            webhook_secret_env="TEST_FD_SECRET")
    return Helpdesk(table, {"TEST_FD_KEY": "fd-key", "TEST_FD_SECRET": "fd-webhook-secret"}, solve, sim.stop)


def zammad(webhook_url: str) -> Helpdesk:
    sim = ZammadSimulator(token="zm-token", secret="zm-secret").start()
    sim.webhook_url = webhook_url
    first, second = sim.add_group("Billing"), sim.add_group("Tier 2")
    agent = sim.add_user("Lina", "Chen", "lina@acme.test", role="Agent")

    def solve(email: str):
        customer = sim.add_user("Ana", "Souza", email)
        ticket = sim.create_ticket(customer, "Refund still missing", group_id=first, owner_id=sim.agent_id)
        sim.assign(ticket.id, group_id=second, owner_id=agent)
        return sim.set_status(ticket.id, "closed")

    table = connector_table("zammad", base_url=sim.url, api_token_env="TEST_ZM_TOKEN",
                            webhook_secret_env="TEST_ZM_SECRET", api_user_id=sim.api_user_id)
    return Helpdesk(table, {"TEST_ZM_TOKEN": "zm-token", "TEST_ZM_SECRET": "zm-secret"}, solve, sim.stop)


def generic(webhook_url: str) -> Helpdesk:
    secret = "whsec_c2ltdWxhdGVkLXNlbmRlci1zZWNyZXQtMzJieXRlcw=="
    sender = GenericSender(secret, webhook_url=webhook_url)

    def solve(email: str):
        ticket = sender.create_ticket(email, requester_name="Ana Souza", group="Billing", assignee="Priya")
        sender.update(ticket, group="Tier 2", assignee="Lina")
        return sender.set_status(ticket, "solved")

    table = connector_table("generic", webhook_secret_env="TEST_GENERIC_SECRET")
    return Helpdesk(table, {"TEST_GENERIC_SECRET": secret}, solve, lambda: None)


@pytest.mark.parametrize("make", [freshdesk, zammad, generic], ids=["freshdesk", "zammad", "generic"])
def test_webhook_survey_answer_assessment(make, config, sink, app_port, tmp_path, monkeypatch):
    helpdesk = make(f"http://127.0.0.1:{app_port}/webhooks/{make.__name__}-main")
    for name, value in helpdesk.env.items():
        monkeypatch.setenv(name, value)
    config.write(smtp_port=sink.port, connectors=helpdesk.connector)
    service = Service(config.env(), app_port, tmp_path).start(["serve", "--port", str(app_port)], ["worker"],
                                                            ["scheduler"])
    with service.running(helpdesk):
        service.wait_ready()
        responses = helpdesk.solve("ana.souza@example.com")
        assert responses[-1].status_code == 202, responses[-1].text
        wait_until(lambda: len(sink.messages) == 1, 20, message="the survey mail")
        mail = sink.messages[0]
        assert mail["To"].endswith("<ana.souza@example.com>")
        link = re.search(r"(http://\S+/s/[\w-]+)/2\b", mail.get_body(("plain",)).get_content()).group(1)
        assert requests.get(f"{link}/2", headers=BROWSER, timeout=10).status_code == 200
        requests.post(link, data={"score": "2", "confirm": "1"}, headers=BROWSER, timeout=10)

        def flagged():
            done = service.cli("flags", "--format", "json")
            rows = json.loads(done.stdout) if done.returncode == 0 else []
            return rows and rows[0]["basis"] == "survey" and rows[0]

        flag = wait_until(flagged, 20, 0.3, "the assessment")
        assert flag["level"] == "high" and flag["reasons"][0] == "low_answer"
        assert "group_transfers" in flag["reasons"], flag["why"]
        report = json.loads(service.cli("report", "--format", "json").stdout)
        assert report["rows"][0]["responses"] == 1 and report["rows"][0]["ces"] == 0.0
