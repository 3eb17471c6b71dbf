"""Bad input at scale: schemathesis against the app's own OpenAPI schema (no 5xx, no unsigned
webhook accepted, one JSON error shape on the JSON endpoints), and Hypothesis on every connector's
signature check (any change to the body, the timestamp or the secret fails)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ces.worker.web.app import create_app
from tests.support import SQLITE_ONLY, ServedApp, zendesk_headers

JSON_PATHS = ("/webhooks/", "/healthz", "/readyz", "/api/")


@pytest.fixture
def served(rt, app_port):
    with ServedApp(create_app(rt), app_port) as app:
        yield app


def check(case, response) -> None:
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
    if case.path.startswith("/webhooks/"):
        assert response.status_code >= 400, "an unsigned webhook was accepted"
    if case.path.startswith(JSON_PATHS) and response.status_code >= 400 and case.path != "/readyz":
        body = response.json()
        assert set(body) == {"error", "detail"} and isinstance(body["detail"], str)


@SQLITE_ONLY
def test_the_api_never_errs_and_never_accepts_the_unsigned(served):
    """Every operation of the app's OpenAPI schema, fuzzed; at least a thousand requests in all."""
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    sent = {"count": 0}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def fuzz(case):
            response = case.call(base_url=served.url, timeout=10)
            sent["count"] += 1
            check(case, response)

        fuzz()
    print(f"\n{sent['count']} generated requests over {len(operations)} operations")
    assert sent["count"] >= 1000, sent["count"]


@SQLITE_ONLY
def test_the_read_api_with_an_agents_token_never_errs_and_never_shows_another_agents_answers(rt, served):
    """The /api/v1/ operations fuzzed with a live token of an agent: no 5xx, the one error shape, and
    only Amy's answers and numbers ever."""
    from ces.worker.api import tokens
    from tests.answers_data import ANSWERS, plant
    from tests.console import add_user

    for external, values in ANSWERS.items():
        plant(rt, external, *values)
    add_user(rt, "amy@acme.test", "agent")
    token = tokens.create(rt, "amy@acme.test", "fuzz", list(tokens.SCOPES), 1)[1]
    amys = {t for t, v in ANSWERS.items() if v[1] == "amy@acme.test"}
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().path.startswith("/api/v1/")]
    assert {op.path for op in operations} == {"/api/v1/answers", "/api/v1/surveys", "/api/v1/report",
                                              "/api/v1/flags", "/api/v1/tickets/{connector}/{ticket_id}"}
    for operation in operations:
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def fuzz(case):
            response = case.call(base_url=served.url, timeout=10, headers={"Authorization": f"Bearer {token}"})
            check(case, response)
            if response.status_code != 200 or (case.query or {}).get("format") == "csv":
                return
            if case.path == "/api/v1/answers":
                assert {item["ticket"] for item in response.json()["items"]} <= amys
            elif case.path == "/api/v1/surveys":
                assert {item["ticket"] for item in response.json()["items"]} <= amys
            elif case.path.startswith("/api/v1/tickets/"):
                assert response.json()["ticket_id"] in amys
            elif case.path == "/api/v1/report":
                assert sum(row["responses"] for row in response.json()["rows"]) <= len(amys)

        fuzz()


@SQLITE_ONLY
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                         lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                                           max_size=4), max_leaves=12),
       invocation=st.text(alphabet="abcdef0123456789-", min_size=1, max_size=36))
def test_signed_garbage_is_refused_or_ignored_never_a_server_error(served, body, invocation):
    raw = json.dumps(body).encode()
    resp = requests.post(f"{served.url}/webhooks/zendesk-main", data=raw,
                         headers=zendesk_headers(raw, invocation=invocation), timeout=10)
    assert resp.status_code in (200, 202, 422), resp.text
    if resp.status_code == 422:
        assert resp.json()["error"] == "unparseable"


# --- every connector's verifier: any change to the body, the timestamp or the secret fails ----------
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _zendesk(secret, ts, body):
    from ces.connectors.zendesk.connector import sign

    stamp = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"X-Zendesk-Webhook-Signature-Timestamp": stamp, "X-Zendesk-Webhook-Signature": sign(secret, stamp, body),
            "X-Zendesk-Webhook-Invocation-Id": "inv"}


def whsec(secret: str) -> str:
    """A Standard Webhooks secret derived from the generated text: 32 bytes, base64, whsec_."""
    import base64
    import hashlib

    return "whsec_" + base64.b64encode(hashlib.sha256(secret.encode()).digest()).decode()


def _generic(secret, ts, body):
    from ces.connectors.standard_webhooks import headers

    return headers(whsec(secret), "msg_1", ts, body)


def _hmac_hex(algo, prefix):
    def make(secret, ts, body):
        import hashlib
        import hmac

        return {"X-Hub-Signature": prefix + hmac.new(secret.encode(), body, getattr(hashlib, algo)).hexdigest()}
    return make


def _helpscout(secret, ts, body):
    import base64
    import hashlib
    import hmac

    return {"X-HelpScout-Signature": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()}


def _front(secret, ts, body):
    from ces.connectors.front.connector import sign_application

    stamp = str(ts * 1000)
    return {"X-Front-Request-Timestamp": stamp, "X-Front-Signature": sign_application(secret, stamp, body)}


def _hubspot(secret, ts, body):
    from ces.connectors.hubspot.connector import sign as sign_v3

    stamp = str(ts * 1000)
    return {"X-HubSpot-Request-Timestamp": stamp,
            "X-HubSpot-Signature-v3": sign_v3(secret, "POST", "https://s.example/webhooks/c", body, stamp)}


VERIFIERS = {
    "zendesk": (_zendesk, {"subdomain": "acme", "email": "a@b.c", "api_token_env": "FZ_TOKEN"}, True),
    "generic": (_generic, {}, True),
    "zammad": (_hmac_hex("sha1", "sha1="), {"base_url": "https://z.example", "api_token_env": "FZ_TOKEN"}, False),
    "intercom": (_hmac_hex("sha1", "sha1="), {"access_token_env": "FZ_TOKEN", "admin_id": "1"}, False),
    "helpscout": (_helpscout, {"app_id_env": "FZ_TOKEN", "app_secret_env": "FZ_TOKEN"}, False),
    "front": (_front, {"api_token_env": "FZ_TOKEN", "webhook_kind": "application"}, True),
    "hubspot": (_hubspot, {"access_token_env": "FZ_TOKEN"}, True),
}


def connector(kind, secret, monkeypatch):
    from ces.config.models import HttpSettings
    from ces.connectors.http import HttpClient
    from ces.connectors.registry import connector_class

    monkeypatch.setenv("FZ_TOKEN", "t")
    monkeypatch.setenv("FZ_SECRET", secret if kind != "generic" else whsec(secret))
    cls = connector_class(kind)
    extra = {"secret_field": "client_secret_env"} if kind in ("intercom", "hubspot") else {}
    secret_key = extra.get("secret_field", "webhook_secret_env")
    settings_ = cls.Settings(id="c", kind=kind, **{secret_key: "FZ_SECRET"}, **VERIFIERS[kind][1])
    return cls(settings_, http=HttpClient(HttpSettings()), public_url="https://s.example")


def request(headers, body, at=NOW):
    from ces.connectors.models import InboundRequest

    return InboundRequest("POST", "/webhooks/c", "", {k.lower(): v for k, v in headers.items()}, body, at,
                          "https://s.example")


@pytest.mark.parametrize("kind", sorted(VERIFIERS))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(min_size=1, max_size=300), flip=st.integers(0, 10_000),
       secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=24),
       skew=st.integers(-200, 200))
def test_any_change_to_body_timestamp_or_secret_fails(kind, body, flip, secret, skew, monkeypatch):
    from ces.connectors.errors import BadSignature, StaleTimestamp

    make, _, timed = VERIFIERS[kind]
    conn = connector(kind, secret, monkeypatch)
    ts = int(NOW.timestamp()) + skew
    conn.verify(request(make(secret, ts, body), body))  # the genuine request passes
    changed = bytearray(body)
    changed[flip % len(body)] ^= 0x01
    with pytest.raises((BadSignature, StaleTimestamp)):
        conn.verify(request(make(secret, ts, body), bytes(changed)))
    with pytest.raises(BadSignature):
        conn.verify(request(make(secret + "x", ts, body), body))
    if timed:
        genuine = make(secret, ts, body)
        moved = make(secret, ts + 1, body)
        stamp_header = next(k for k in genuine if "timestamp" in k.lower())
        with pytest.raises((BadSignature, StaleTimestamp)):
            conn.verify(request({**genuine, stamp_header: moved[stamp_header]}, body))
