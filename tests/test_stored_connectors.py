"""Connectors made in the console (worker/stored_connectors.py, live_connectors.py, secretbox.py,
helpdesk_address.py): secrets encrypted at rest and rotated, a lost key a failing connector and no
crash, one validation with `ces config check`, the TOML's ids refused, every process seeing a
change within seconds, and the addresses the console refuses to call."""

from __future__ import annotations

import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ces.connectors.errors import BadSignature
from ces.worker import secretbox, stored_connectors
from ces.worker.db.models import AuditEntry, StoredConnector
from ces.worker.helpdesk_address import AddressRefused, check_address, run_checks
from ces.worker.runtime import Runtime
from ces.worker.stored_connectors import StoreError
from tests.pipeline import Clock, deliver, status_body
from tests.support import cli, zendesk_headers

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

TOKEN, SECRET = "zd-console-token-77", "console-signing-secret-42"
FIELDS = {"id": "zd-console", "base_url": "https://acme2.zendesk.com", "email": "admin@acme.test"}


@pytest.fixture
def key(monkeypatch) -> str:
    value = Fernet.generate_key().decode()
    monkeypatch.setenv(secretbox.VARIABLE, value)
    return value


def add(rt, **fields):
    return stored_connectors.create(rt, "zendesk", FIELDS | fields, {"api_token": TOKEN, "webhook_secret": SECRET},
                                    actor="user:1")


def row(rt, connector_id="zd-console") -> StoredConnector:
    with rt.transaction() as s:
        return s.get(StoredConnector, connector_id)


def test_secrets_are_stored_encrypted_and_held_in_memory_only(rt, key):
    add(rt)
    stored = row(rt)
    assert TOKEN not in stored.secrets and SECRET not in stored.secrets and TOKEN not in str(stored.settings)
    assert secretbox.decrypt(stored.secrets) == {"api_token": TOKEN, "webhook_secret": SECRET}
    conn = rt.connector("zd-console")
    assert conn.settings.secret("api_token") == TOKEN and conn.settings.secret_values("webhook_secret") == [SECRET]
    dumped = conn.settings.model_dump_json()
    assert TOKEN not in dumped and SECRET not in dumped and TOKEN not in repr(conn.settings)
    assert TOKEN not in repr(conn.settings.held)
    with rt.transaction() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "connector.create")).one()
    assert entry.target == "connector:zd-console" and TOKEN not in str(entry.detail)


def test_validated_like_the_file_and_the_files_ids_refused(rt, key):
    with pytest.raises(StoreError) as err:
        add(rt, base_url=None)  # no subdomain, no base_url: the kind's own validator speaks
    assert "subdomain" in str(err.value)
    with pytest.raises(StoreError) as err:
        stored_connectors.create(rt, "zendesk", FIELDS, {"api_token": TOKEN}, actor="user:1")
    assert "webhook_secret" in str(err.value)
    with pytest.raises(StoreError) as err:
        add(rt, id="zendesk-main")  # the TOML file's
    assert err.value.problems[0].key == "id" and "configuration file" in err.value.problems[0].message
    add(rt)
    with pytest.raises(StoreError):
        add(rt)


def test_a_changed_key_makes_the_connector_failing_never_a_crash(rt, key, monkeypatch, make_rt):
    add(rt)
    monkeypatch.setenv(secretbox.VARIABLE, Fernet.generate_key().decode())
    other = make_rt()
    snap = other.live_connectors.snapshot()
    assert snap.failing["zd-console"] == secretbox.CANNOT_DECRYPT
    conn = other.connector("zd-console")
    results = run_checks(conn, check_address_first=False, allow_http=True)
    assert not results[0].ok and "CES_SECRET_KEY changed?" in results[0].detail
    assert "zendesk-main" in other.connectors and not snap.failing.get("zendesk-main")


def test_rotation_reencrypts_with_the_first_key(rt, key, monkeypatch, make_rt, capsys):
    add(rt)
    new = Fernet.generate_key().decode()
    monkeypatch.setenv(secretbox.VARIABLE, f"{new},{key}")
    code, out, _ = cli(capsys, "secrets", "rotate")
    assert code in (0, None) and "re-encrypted 1 connector" in out
    monkeypatch.setenv(secretbox.VARIABLE, new)  # the old key gone: still readable
    assert make_rt().connector("zd-console").settings.secret("api_token") == TOKEN
    monkeypatch.setenv(secretbox.VARIABLE, key)  # only the old key: no longer
    code, _, error = cli(capsys, "secrets", "rotate")
    assert code == 1 and "zd-console" in error


def test_a_rotated_webhook_secret_accepts_the_old_one_for_the_grace_period(make_rt, key):
    clock = Clock()
    rt = make_rt(clock=clock)
    add(rt)
    new = stored_connectors.rotate_webhook_secret(rt, "zd-console", None, actor="user:1")
    rt.live_connectors.check()
    assert rt.connector("zd-console").settings.secret_values("webhook_secret") == [new, SECRET]
    clock.advance(rt.settings.console.webhook_secret_grace_hours * 3600 - 60)
    assert not rt.live_connectors.check()
    clock.advance(61)
    assert rt.live_connectors.check()  # the grace period over: rebuilt without the old secret
    assert rt.connector("zd-console").settings.secret_values("webhook_secret") == [new]


def test_every_process_sees_a_change_within_five_seconds(rt, key, make_rt):
    other = make_rt()  # another process: its own runtime, its own snapshot
    assert "zd-console" not in other.connectors
    add(rt)
    assert _seen(other, lambda c: "zd-console" in c)
    stored_connectors.set_flags(rt, "zd-console", enabled=False, actor="user:1")
    assert _seen(other, lambda c: not c["zd-console"].settings.enabled)
    stored_connectors.delete(rt, "zd-console", actor="user:1")
    assert _seen(other, lambda c: "zd-console" not in c)


def _seen(rt: Runtime, condition) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if condition(rt.connectors):
            return True
        time.sleep(0.1)
    return False


def test_a_stored_connectors_webhook_is_verified_with_its_held_secret(rt, key):
    add(rt)
    body = status_body("solved", "open")
    assert deliver(rt, "zd-console", body, zendesk_headers(body, secret=SECRET, invocation="c-1"))[0] is not None
    with pytest.raises(BadSignature):
        deliver(rt, "zd-console", body, zendesk_headers(body, invocation="c-2"))  # the TOML connector's secret


@pytest.mark.parametrize("url, allow_http, cause", [
    ("http://acme.test", False, "not an https"),
    ("https://meta.test", False, "cloud metadata"),
    ("https://v6meta.test", False, "cloud metadata"),
    ("https://link.test", False, "link-local"),
    ("https://local.test", False, "loopback"),
    ("ftp://acme.test", True, "not an https"),
])
def test_addresses_the_console_refuses(url, allow_http, cause, db_url):
    hosts = {"acme.test": ["203.0.113.5"], "meta.test": ["169.254.169.254"], "v6meta.test": ["fd00:ec2::254"],
             "link.test": ["169.254.10.1"], "local.test": ["127.0.0.1"]}
    with pytest.raises(AddressRefused) as err:
        check_address(url, allow_http=allow_http, resolver=lambda host, port: hosts[host])
    assert cause in str(err.value)


def test_addresses_the_console_calls(db_url):
    check_address("https://acme.test", allow_http=False, resolver=lambda h, p: ["203.0.113.5", "10.0.0.7"])
    check_address("http://127.0.0.1:8080", allow_http=True, resolver=lambda h, p: ["127.0.0.1"])
    with pytest.raises(AddressRefused, match="does not resolve"):
        check_address("https://nowhere.invalid", allow_http=False)


def test_ces_connectors_test_names_a_lost_key(rt, key, monkeypatch, capsys):
    add(rt)
    monkeypatch.setenv(secretbox.VARIABLE, Fernet.generate_key().decode())
    code, out, _ = cli(capsys, "connectors", "test", "zd-console")
    assert code == 1 and "cannot decrypt its secrets (CES_SECRET_KEY changed?)" in out


def test_a_webhook_to_a_connector_no_key_opens_is_answered_503_and_nothing_stored(rt, key, monkeypatch, make_rt,
                                                                                    app_port):
    from ces.worker.web.app import create_app
    from tests.pipeline import events
    from tests.support import ServedApp

    add(rt)
    monkeypatch.setenv(secretbox.VARIABLE, Fernet.generate_key().decode())
    body = status_body("solved", "open")
    with ServedApp(create_app(make_rt()), app_port) as served:
        resp = served.post("/webhooks/zd-console", body, zendesk_headers(body, secret=SECRET))
    assert resp.status_code == 503 and resp.headers["Retry-After"] and SECRET not in resp.text
    assert "CES_SECRET_KEY changed?" in resp.json()["detail"]
    assert events(rt) == []


@pytest.mark.slow
def test_a_running_server_process_takes_webhooks_for_a_connector_added_a_moment_ago(rt, key, config, app_port,
                                                                                  tmp_path):
    """Two real processes: `ces serve`, and this one adding the connector; within 5 s the server knows it."""
    import requests

    from tests.support import Service, wait_until

    svc = Service(config.env() | {secretbox.VARIABLE: key}, app_port, tmp_path).start(["serve", "--port", str(app_port)])
    try:
        svc.wait_ready()
        body = status_body("solved", "open")
        assert requests.post(f"{svc.url}/webhooks/zd-console", data=body, timeout=5).status_code == 404
        add(rt)
        added = time.monotonic()

        def accepted():
            headers = zendesk_headers(body, secret=SECRET, invocation="proc-1")
            return requests.post(f"{svc.url}/webhooks/zd-console", data=body, headers=headers, timeout=5).status_code
        wait_until(lambda: accepted() in (200, 202), 5, 0.1, "the server to know the new connector")
        assert time.monotonic() - added < 5
    finally:
        svc.stop()


def test_a_connector_no_key_opens_fails_in_the_health_report_and_ces_status_then_drops_out_when_deleted(
        rt, key, monkeypatch, make_rt, capsys, app_port):
    from ces.worker.health.report import health
    from ces.worker.web.app import create_app
    from tests.console import add_user, signed_in
    from tests.support import ServedApp

    add(rt)
    add(rt, id="zd-broken")
    with rt.transaction() as s:  # settings that no longer validate (a file edited by hand, an old version)
        broken = s.get(StoredConnector, "zd-broken")
        broken.settings, broken.version = {**broken.settings, "base_url": "not an address"}, broken.version + 1
    monkeypatch.setenv(secretbox.VARIABLE, Fernet.generate_key().decode())
    report = health(make_rt())
    found = {c["name"]: c for c in report["components"]}
    lost = found["connector:zd-console"]
    assert report["state"] == lost["state"] == "failing" and lost["findings"][0]["cause"] == secretbox.CANNOT_DECRYPT
    assert "put the earlier key back in CES_SECRET_KEY" in lost["findings"][0]["fix"]
    assert "/admin/connectors/zd-console/edit" in lost["findings"][0]["fix"]
    invalid = found["connector:zd-broken"]
    assert invalid["state"] == "failing" and "no longer validate" in invalid["findings"][0]["cause"]
    assert invalid["findings"][0]["fix"] == "edit it at /admin/connectors/zd-broken/edit"
    code, out, _ = cli(capsys, "status")
    assert code == 1 and "connector:zd-console" in out and "CES_SECRET_KEY changed?" in out
    served = make_rt()
    add_user(served, "ada@acme.test", "admin")
    with ServedApp(create_app(served), app_port) as console:
        page = signed_in(console, "ada@acme.test").get("/admin/health").text
    assert "Console connector · zd-broken" in page and "edit it at /admin/connectors/zd-broken/edit" in page
    assert "cannot decrypt its secrets (CES_SECRET_KEY changed?)" in page
    other = make_rt()
    other.health.swap_state("connector:zd-console", "failing")  # its incident was notified
    stored_connectors.delete(other, "zd-console", actor="user:1")
    stored_connectors.delete(other, "zd-broken", actor="user:1")
    names = [c["name"] for c in health(make_rt())["components"]]
    assert "connector:zd-console" not in names and "connector:zd-broken" not in names
    assert other.health.swap_state("connector:zd-console", "ok") is None  # closed with it: a new one is news
