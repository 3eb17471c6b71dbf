"""Provisioning per helpdesk, against `responses`: a first run creates what is missing, a second
finds it by its name and changes only what differs, never a duplicate; a refusal ends the run
with a failed step that names the call and what its status means, never the helpdesk's answer."""

from __future__ import annotations

import json

import pytest
import responses

from ces.connectors.errors import Unsupported
from tests.connectors.kit import PUBLIC, kit_of
from tests.connectors.kits import helpscout as helpscout_kit
from tests.connectors.kits import zammad as zammad_kit
from tests.connectors.kits import zendesk as zendesk_kit

ECHO = "remote-body-ECHO-1234"  # in every refusal's body: it must not reach a step


def connector(kind: str, monkeypatch, **overrides):
    return kit_of(kind).connector(kind, monkeypatch, **overrides)


def sent(method: str, url_part: str) -> list[dict]:
    return [json.loads(c.request.body or b"null") for c in responses.calls
            if c.request.method == method and url_part in c.request.url]


def writes() -> list[str]:
    """The changes made in the helpdesk (fetching an access token changes nothing)."""
    return [c.request.method for c in responses.calls
            if c.request.method != "GET" and not c.request.url.endswith("/oauth2/token")]


def assert_refused(done, status: int, meaning: str):
    assert not done.ok and not done.secrets
    last = done.steps[-1]
    assert not last.ok and f"answered {status}: {meaning}" in last.detail
    assert ECHO not in last.detail
    assert not any(step.name == "left to you" for step in done.steps)


# --- Zendesk ------------------------------------------------------------------------------------
ZD, ZD_NAME, zd_webhook, zd_account = zendesk_kit.API, zendesk_kit.NAME, zendesk_kit.webhook, zendesk_kit.account


@responses.activate
def test_zendesk_first_run_creates_the_webhook_and_returns_its_signing_secret(monkeypatch):
    zd_account(zd_webhook(name="ces-worker (zendesk-main-2)", id="01OTHER"))  # a longer name: not ours
    done = connector("zendesk", monkeypatch).provision()
    assert done.ok and done.secrets == {"webhook_secret": "zd-generated-secret"}
    assert done.steps[0].detail == (f"created webhook '{ZD_NAME}', which sends ticket status changes to "
                                    f"{PUBLIC}/webhooks/zendesk-main")
    assert "signing secret" in done.steps[1].detail and "zd-generated-secret" not in done.steps[1].detail
    assert "satisfaction survey" in done.steps[-1].detail and done.steps[-1].name == "left to you"
    (body,) = sent("POST", "/webhooks")
    assert body["webhook"] == {k: v for k, v in zd_webhook().items() if k != "id"}
    query = responses.calls[0].request.params
    assert query["filter[name_contains]"] == ZD_NAME


@responses.activate
def test_zendesk_second_run_changes_nothing_that_is_right(monkeypatch):
    zd_account(zd_webhook())
    done = connector("zendesk", monkeypatch).provision()
    assert done.ok and done.secrets == {"webhook_secret": "zd-generated-secret"}
    assert done.steps[0].detail.startswith(f"webhook '{ZD_NAME}' already sends")
    assert writes() == []


@responses.activate
def test_zendesk_second_run_updates_and_switches_back_on_what_differs(monkeypatch):
    zd_account(zd_webhook(endpoint="https://old.example/webhooks/zendesk-main", status="inactive"))
    done = connector("zendesk", monkeypatch).provision()
    assert done.ok
    details = [s.detail for s in done.steps]
    assert details[0].startswith(f"updated webhook '{ZD_NAME}' (endpoint, status), which sends")
    assert details[1] == f"switched webhook '{ZD_NAME}' back on (it was inactive)"
    assert writes() == ["PUT"] and sent("PUT", "/webhooks/01HWEBHOOK")[0]["webhook"]["status"] == "active"


@pytest.mark.parametrize("status, meaning", [(401, "wrong credentials"), (403, "missing permission"),
                                             (422, "the helpdesk refused the webhook or trigger as invalid")])
@responses.activate
def test_zendesk_a_refusal_is_named_without_the_remote_body(monkeypatch, status, meaning):
    responses.get(f"{ZD}/webhooks", json={"webhooks": [], "meta": {"has_more": False}, "links": {"next": None}})
    responses.post(f"{ZD}/webhooks", status=status, json={"error": ECHO})
    done = connector("zendesk", monkeypatch).provision()
    assert_refused(done, status, meaning)
    assert done.steps[-1].name == "webhook" and done.steps[-1].detail.startswith("Zendesk create webhook at ")
    assert len(sent("POST", "/webhooks")) == 1  # not retried


@pytest.mark.parametrize("answered, ok, words", [(202, True, "signed test webhook accepted"),
                                                 (401, False, "the signature did not verify")])
@responses.activate
def test_zendesk_test_delivery_says_what_our_intake_answered(monkeypatch, answered, ok, words):
    zd_account(zd_webhook())
    responses.post(f"{ZD}/webhooks/test", json={"response": {"status": answered, "body": "", "headers": []}})
    result = connector("zendesk", monkeypatch).test_delivery()
    assert result.ok is ok and words in result.detail
    test_call = next(c for c in responses.calls if "/webhooks/test" in c.request.url)
    assert test_call.request.params["webhook_id"] == "01HWEBHOOK"
    request = json.loads(test_call.request.body)["request"]
    assert request["endpoint"] == f"{PUBLIC}/webhooks/zendesk-main"
    assert json.loads(request["payload"])["type"] == "zen:event-type:ces.test_delivery"


@responses.activate
def test_zendesk_test_delivery_without_a_webhook_says_provision_first(monkeypatch):
    zd_account()
    result = connector("zendesk", monkeypatch).test_delivery()
    assert not result.ok and "provision first" in result.detail and writes() == []


# --- Zammad -------------------------------------------------------------------------------------
ZM, ZM_NAME = zammad_kit.API, zammad_kit.NAME


@pytest.mark.parametrize("configured", [True, False], ids=["configured-secret", "no-secret-yet"])
@responses.activate
def test_zammad_first_run_creates_webhook_then_trigger(monkeypatch, configured):
    zammad_kit.account([], [])
    overrides = {} if configured else {"webhook_secret_env": "ZM_NOT_SET_YET"}
    monkeypatch.delenv("ZM_NOT_SET_YET", raising=False)
    done = connector("zammad", monkeypatch, **overrides).provision()
    assert done.ok, done.steps
    (webhook,) = sent("POST", "/webhooks")
    secret = webhook.pop("signature_token")
    assert webhook == {"name": ZM_NAME, "endpoint": f"{PUBLIC}/webhooks/zammad-main", "http_method": "post",
                       "ssl_verify": True, "customized_payload": False, "active": True}
    assert done.secrets == {"webhook_secret": secret} and 20 <= len(secret) <= 40
    assert (secret == "zammad-hmac-token-4f9a") is configured
    (trigger,) = sent("POST", "/triggers")
    assert trigger["perform"] == {"notification.webhook": {"webhook_id": 7}}
    assert trigger["condition"] == {"ticket.state_id": {"operator": "has changed"}}
    details = [s.detail for s in done.steps]
    assert details[0].startswith(f"created webhook '{ZM_NAME}', which sends ticket changes to {PUBLIC}/")
    assert ("configured webhook_secret" if configured else "a new secret we chose") in details[1]
    assert details[2] == f"created trigger '{ZM_NAME}', which calls webhook '{ZM_NAME}' whenever a ticket's state changes"
    assert secret not in " ".join(details)


@responses.activate
def test_zammad_second_run_repairs_the_trigger_and_switches_it_back_on(monkeypatch):
    zammad_kit.account([zammad_kit.webhook()], [zammad_kit.trigger(active=False,
                                                                     perform={"notification.webhook": {"webhook_id": 3}})])
    done = connector("zammad", monkeypatch).provision()
    assert done.ok and writes() == ["PUT"]
    assert sent("PUT", "/triggers/12")[0]["perform"] == {"notification.webhook": {"webhook_id": 7}}
    details = [s.detail for s in done.steps]
    assert details[0] == f"webhook '{ZM_NAME}' already sends ticket changes to {PUBLIC}/webhooks/zammad-main, signed"
    assert details[2].startswith(f"updated trigger '{ZM_NAME}' (perform, active)")
    assert details[3] == f"switched trigger '{ZM_NAME}' back on (it was off)"


@responses.activate
def test_zammad_an_id_given_back_as_text_is_the_same_id(monkeypatch):
    zammad_kit.account([zammad_kit.webhook()], [zammad_kit.trigger(perform={"notification.webhook": {"webhook_id": "7"}})])
    done = connector("zammad", monkeypatch).provision()
    assert done.ok and writes() == []


@responses.activate
def test_zammad_without_a_stored_secret_gives_the_found_webhook_a_new_one(monkeypatch):
    zammad_kit.account([zammad_kit.webhook()], [zammad_kit.trigger()])
    monkeypatch.delenv("ZM_NOT_SET_YET", raising=False)
    done = connector("zammad", monkeypatch, webhook_secret_env="ZM_NOT_SET_YET").provision()
    assert done.ok and writes() == ["PUT"]
    assert sent("PUT", "/webhooks/7")[0]["signature_token"] == done.secrets["webhook_secret"]
    assert done.steps[0].detail.startswith(f"updated webhook '{ZM_NAME}' (signature_token)")


@pytest.mark.parametrize("status, meaning", [(401, "wrong credentials"), (403, "missing permission"),
                                             (422, "the helpdesk refused the webhook or trigger as invalid")])
@responses.activate
def test_zammad_a_refusal_is_named_without_the_remote_body(monkeypatch, status, meaning):
    responses.get(f"{ZM}/webhooks", json=[])
    responses.post(f"{ZM}/webhooks", status=status, json={"error": ECHO, "error_human": ECHO})
    done = connector("zammad", monkeypatch).provision()
    assert_refused(done, status, meaning)
    assert done.steps[-1].name == "webhook" and done.steps[-1].detail.startswith("Zammad create webhook at ")


# --- Help Scout ---------------------------------------------------------------------------------
HS, HS_NAME = helpscout_kit.API, helpscout_kit.NAME


@responses.activate
def test_helpscout_first_run_creates_the_webhook_with_our_secret(monkeypatch):
    helpscout_kit.account()
    done = connector("helpscout", monkeypatch).provision()
    assert done.ok, done.steps
    (body,) = sent("POST", "/webhooks")
    assert body == {"url": f"{PUBLIC}/webhooks/helpscout-main", "label": HS_NAME, "payloadVersion": "V2",
                    "events": ["convo.customer.reply.created", "convo.deleted", "convo.status"],
                    "notification": False, "secret": "hs-webhook-secret-7c1d"}
    assert done.secrets == {"webhook_secret": "hs-webhook-secret-7c1d"}
    assert done.steps[0].detail.startswith(f"created webhook '{HS_NAME}', which sends convo.customer.reply.created")
    assert done.steps[0].extra == {"id": "10"}


@responses.activate
def test_helpscout_second_run_updates_what_differs_and_recreates_a_disabled_one(monkeypatch):
    helpscout_kit.account(helpscout_kit.webhook(events=["convo.status"], label=None))  # found by its URL
    done = connector("helpscout", monkeypatch).provision()
    assert done.ok and writes() == ["PUT"]
    assert done.steps[0].detail.startswith(f"updated webhook '{HS_NAME}' (events, label)")
    responses.reset()
    helpscout_kit.account(helpscout_kit.webhook(state="disabled"))
    done = connector("helpscout", monkeypatch).provision()
    assert done.ok and writes() == ["DELETE", "POST"]
    assert [s.detail.split(",")[0] for s in done.steps[:2]] == [f"deleted webhook '{HS_NAME}'",
                                                                f"created webhook '{HS_NAME}'"]


@pytest.mark.parametrize("status, meaning", [(401, "wrong credentials"), (403, "missing permission"),
                                             (422, "the helpdesk refused the webhook or trigger as invalid")])
@responses.activate
def test_helpscout_a_refusal_is_named_without_the_remote_body(monkeypatch, status, meaning):
    responses.post(f"{HS}/oauth2/token", json={"access_token": "t", "token_type": "bearer", "expires_in": 7200})
    responses.get(f"{HS}/webhooks", json={"_embedded": {"webhooks": []}})
    responses.post(f"{HS}/webhooks", status=status, json={"message": ECHO})
    done = connector("helpscout", monkeypatch).provision()
    assert_refused(done, status, meaning)


# --- HubSpot ------------------------------------------------------------------------------------
def test_hubspot_says_why_it_cannot_be_provisioned(monkeypatch):
    with pytest.raises(Unsupported, match=r"only in the app's settings; its Webhooks API is for public apps"):
        connector("hubspot", monkeypatch).provision()


@responses.activate
def test_a_run_is_logged_without_its_secret(monkeypatch, capsys):
    zd_account()
    connector("zendesk", monkeypatch).provision()
    line = next(json.loads(line) for line in capsys.readouterr().err.splitlines() if "connector_provisioned" in line)
    assert line["connector"] == "zendesk-main" and line["ok"] is True and line["obtained"] == ["webhook_secret"]
    assert line["steps"] == ["webhook:ok", "signing secret:ok", "left to you:ok"]
    assert "zd-generated-secret" not in json.dumps(line)


@responses.activate
def test_unreadable_credentials_end_the_run_before_any_call(monkeypatch):
    monkeypatch.delenv("ZD_NOT_SET", raising=False)
    done = connector("zendesk", monkeypatch, api_token_env="ZD_NOT_SET").provision()
    (step,) = done.steps
    assert not step.ok and step.detail.startswith("the connector's api_token_env is not usable: ")
    assert "ZD_NOT_SET" in step.detail
    assert len(responses.calls) == 0
