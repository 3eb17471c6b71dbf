"""Provisioning end to end: `ces connectors provision` against the simulated helpdesk creates the
webhook; with the secret it returns stored, the helpdesk's signed test webhook and a real status
change are accepted by our real intake; a second run changes nothing and duplicates nothing."""

from __future__ import annotations

import re

import pytest

from ces.connectors.zendesk.simulator import ZendeskSimulator
from ces.worker.web.app import create_app
from tests.support import ZENDESK_TOKEN, ServedApp, cli


@pytest.fixture
def zendesk():
    sim = ZendeskSimulator(email="admin@acme.test", token=ZENDESK_TOKEN, secret="zendesk-generated-secret").start()
    yield sim
    sim.stop()


def stored_secret(output: str) -> str:
    return re.search(r"store the webhook_secret .* in the variable TEST_ZENDESK_SECRET: (\S+)", output).group(1)


def test_zendesk_provisioned_then_a_signed_test_webhook_is_accepted(config, zendesk, make_rt, app_port,
                                                                    monkeypatch, capsys):
    config.write(zendesk_url=zendesk.url)
    code, out, err = cli(capsys, "connectors", "provision", "zendesk-main")
    assert code == 0, err
    assert "ok    webhook: created webhook 'ces-worker (zendesk-main)' for ticket status changes" in out
    assert "zendesk-generated-secret" not in out and "`--show-secret` prints it" in out
    assert "left to you: switch off Zendesk's own satisfaction survey" in out

    code, out, _ = cli(capsys, "connectors", "provision", "zendesk-main", "--show-secret")
    assert code == 0 and "already sends ticket status changes" in out and len(zendesk.webhooks) == 1
    monkeypatch.setenv("TEST_ZENDESK_SECRET", stored_secret(out))

    rt = make_rt()
    with ServedApp(create_app(rt), app_port):
        result = rt.connector("zendesk-main").test_delivery()
        assert result.ok and result.detail.startswith("signed test webhook accepted"), result.detail
        requester = zendesk.add_user("Ana Souza", "ana.souza@example.com")
        ticket = zendesk.create_ticket(requester, "Refund still missing")
        (answer,) = zendesk.set_status(ticket.id, "solved")
        assert answer.status_code == 202, answer.text
    assert zendesk.webhook_url == f"http://127.0.0.1:{app_port}/webhooks/zendesk-main"


def test_zendesk_an_agent_token_cannot_provision(config, zendesk, capsys):
    config.write(zendesk_url=zendesk.url)
    zendesk.webhook_role = "agent"
    code, out, _ = cli(capsys, "connectors", "provision", "zendesk-main")
    assert code == 1 and "FAIL  webhook: Zendesk webhooks at 127.0.0.1: answered 403: missing permission" in out
    assert "You do not have access" not in out and zendesk.webhooks == {}
