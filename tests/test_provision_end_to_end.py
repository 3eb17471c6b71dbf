"""Provisioning end to end: `ces connectors provision` against the simulated helpdesk creates the
webhook; with the secret it returns stored, the helpdesk's signed test webhook and a real status
change are accepted by our real intake; a second run changes nothing and duplicates nothing."""

from __future__ import annotations

import re

import pytest

from ces.connectors.zendesk.simulator import ZendeskSimulator
from ces.worker.web.app import create_app
from tests.simulators.zammad import ZammadSimulator
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
    assert "ok    webhook: created webhook 'ces-worker (zendesk-main)', which sends ticket status changes" in out
    assert "zendesk-generated-secret" not in out and "`--show-secret` prints it" in out
    assert "left to you: switch off Zendesk's own satisfaction survey" in out

    code, out, _ = cli(capsys, "connectors", "provision", "zendesk-main", "--show-secret")
    assert code == 0 and "already sends ticket status changes" in out and len(zendesk.webhooks) == 1

    rt = make_rt()
    with ServedApp(create_app(rt), app_port):
        result = rt.connector("zendesk-main").test_delivery()  # the secret not stored yet
        assert not result.ok and "answered 401: the signature did not verify" in result.detail
        monkeypatch.setenv("TEST_ZENDESK_SECRET", stored_secret(out))
        result = rt.connector("zendesk-main").test_delivery()
        assert result.ok and result.detail.startswith("signed test webhook accepted"), result.detail
        code, out, _ = cli(capsys, "connectors", "provision", "zendesk-main", "--test")
        assert code == 0 and "ok    test delivery: signed test webhook accepted by http://127.0.0.1:" in out
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


ZAMMAD_TABLE = """[[connectors]]
id = "zammad-main"
kind = "zammad"
base_url = "{zammad_url}"
api_token_env = "TEST_ZM_TOKEN"
webhook_secret_env = "TEST_ZM_SECRET"
"""


def test_zammad_provisioned_then_a_state_change_is_accepted(config, make_rt, app_port, monkeypatch, capsys):
    zammad = ZammadSimulator(token="zm-token", secret="not-provisioned-yet").start()
    monkeypatch.setenv("TEST_ZM_TOKEN", "zm-token")
    monkeypatch.delenv("TEST_ZM_SECRET", raising=False)  # a new connector: no secret yet
    config.write(connectors=ZAMMAD_TABLE, zammad_url=zammad.url)
    try:
        code, out, err = cli(capsys, "connectors", "provision", "zammad-main", "--show-secret")
        assert code == 0, err + out
        assert "created webhook 'ces-worker (zammad-main)'" in out and "created trigger" in out
        secret = re.search(r"in the variable TEST_ZM_SECRET: (\S+)", out).group(1)
        monkeypatch.setenv("TEST_ZM_SECRET", secret)
        code, out, _ = cli(capsys, "connectors", "provision", "zammad-main", "--test")
        assert code == 0 and "created" not in out and "updated" not in out, out
        assert "skip  test delivery: Zammad connector cannot ask the helpdesk for a test webhook" in out
        assert [len(zammad.records[kind]) for kind in ("webhooks", "triggers")] == [1, 1]
        rt = make_rt()
        with ServedApp(create_app(rt), app_port):
            customer = zammad.add_user("Ana", "Souza", "ana.souza@example.com")
            ticket = zammad.create_ticket(customer, "Refund still missing", owner_id=zammad.agent_id)
            (answer,) = zammad.set_status(ticket.id, "closed")
            assert answer.status_code == 202, answer.text
    finally:
        zammad.stop()


GENERIC_TABLE = """[[connectors]]
id = "generic-main"
kind = "generic"
webhook_secret_env = "TEST_ZENDESK_SECRET"
"""


def test_a_kind_that_cannot_provision_says_so_in_one_line(config, capsys):
    config.write(connectors=GENERIC_TABLE)
    code, out, err = cli(capsys, "connectors", "provision", "generic-main")
    assert code == 1 and out == ""
    assert err == ("ces: Generic (Standard Webhooks) connector cannot set up its webhook through the helpdesk's "
                   "API: follow the steps of `ces connectors setup generic-main`\n")
    code, _, err = cli(capsys, "connectors", "provision", "nobody")
    assert code == 1 and err.startswith("ces: no connector 'nobody'")
