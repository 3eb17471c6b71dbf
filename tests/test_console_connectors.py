"""/admin/connectors (worker/console/admin_connectors.py): an admin adds a Zendesk connector against
the Zendesk simulator, tested as `ces connectors test` tests it, up to a signed webhook accepted;
edits, disables, dry-runs, rotates its webhook secret and deletes it, each audited; the TOML's
connectors read-only and their ids refused; no secret in a page or a log; other roles get 403."""

from __future__ import annotations

import html
import time

import pytest
from cryptography.fernet import Fernet
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from ces.connectors.zendesk.simulator import ZendeskSimulator
from ces.worker import secretbox, stored_connectors
from ces.worker.db.models import AuditEntry
from ces.worker.web.app import create_app
from tests.console import add_user, screenshot, sign_in, signed_in, submit
from tests.node_tools import axe_scan
from tests.simulators.zammad import ZammadSimulator
from tests.support import ServedApp, Service, wait_until
from tests.test_health import E2E_HEALTH

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

TOKEN, SECRET = "zd-console-token-31337", "zd-console-signing-secret-271828"
URLS = [("GET", "/admin/connectors"), ("GET", "/admin/connectors/new"), ("GET", "/admin/connectors/new?kind=zendesk"),
        ("POST", "/admin/connectors/new"), ("GET", "/admin/connectors/zd-new"), ("GET", "/admin/connectors/zd-new/edit"),
        ("POST", "/admin/connectors/zd-new/edit"), ("GET", "/admin/connectors/zd-new/first-webhook"),
        ("POST", "/admin/connectors/zd-new/test"), ("POST", "/admin/connectors/zd-new/flags"),
        ("POST", "/admin/connectors/zd-new/rotate"), ("GET", "/admin/connectors/zd-new/delete"),
        ("POST", "/admin/connectors/zd-new/delete")]

# htmx replaces the polled element between finding it and reading its text: look again.
SWAPPED = (StaleElementReferenceException,)


@pytest.fixture
def zendesk(request):
    sim = ZendeskSimulator(email="ops@acme.test", token=TOKEN, secret=SECRET).start()
    request.addfinalizer(sim.stop)
    return sim


@pytest.fixture
def rt(config, make_rt, monkeypatch):
    monkeypatch.setenv(secretbox.VARIABLE, Fernet.generate_key().decode())
    config.write(extra="\n[console]\nallow_http_helpdesks = true\n")
    rt = make_rt()
    add_user(rt, "ada@acme.test", "admin", name="Ada Admin")
    add_user(rt, "lee@acme.test", "lead", teams=("Billing",))
    add_user(rt, "amy@acme.test", "agent")
    return rt


@pytest.fixture
def console(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def form(zendesk, **extra) -> dict:
    return {"kind": "zendesk", "id": "zd-new", "base_url": zendesk.url, "email": "ops@acme.test",
            "secret:api_token": TOKEN, "secret:webhook_secret": SECRET} | extra


def test_other_roles_cannot_reach_any_connector_page(console, rt, zendesk):
    admin = signed_in(console, "ada@acme.test")
    admin.get("/admin/connectors/new?kind=zendesk")
    assert admin.post("/admin/connectors/new", form(zendesk)).status_code in (200, 303)
    for email in ("lee@acme.test", "amy@acme.test"):
        other = signed_in(console, email)
        other.get("/account")
        for method, path in URLS:
            resp = other.get(path) if method == "GET" else other.post(path, {"action": "disable", "data": "keep"})
            assert resp.status_code == 403, (email, method, path)
        assert "/admin/connectors" not in other.get("/account").text  # not in their navigation
    [stored] = stored_connectors.stored(rt)  # nothing they sent changed it (read from the database)
    assert stored.row_id == "zd-new" and stored.settings.enabled and not stored.settings.dry_run


def test_an_admin_adds_a_zendesk_connector_up_to_a_signed_webhook(console, rt, zendesk, capfd):
    admin = signed_in(console, "ada@acme.test")
    page = admin.get("/admin/connectors/new?kind=zendesk")
    assert page.status_code == 200 and 'name="secret:api_token"' in page.text
    zendesk.server.fail_next(1, 401, body={"error": "REMOTE-SAYS-secret-stuff"})
    failed = admin.post("/admin/connectors/new", form(zendesk))
    assert failed.status_code == 422 and "401" in failed.text and "REMOTE-SAYS" not in failed.text
    assert TOKEN not in failed.text and SECRET not in failed.text  # never shown back, even unsaved
    assert "zd-new" not in rt.connectors
    saved = admin.post("/admin/connectors/new", form(zendesk))  # Zendesk sets itself up: webhook, secret, test
    assert saved.status_code == 200 and "created webhook &#39;ces-worker (zd-new)&#39;" in saved.text
    assert f"signed test webhook accepted by {console.url}/webhooks/zd-new" in saved.text
    assert "switch off Zendesk&#39;s own satisfaction survey" in saved.text
    detail = admin.get("/admin/connectors/zd-new").text
    assert f"{console.url}/webhooks/zd-new" in detail and "The first signed webhook arrived" in detail  # the test
    assert TOKEN not in detail and SECRET not in detail and ">set<" in detail
    wait_until(lambda: "zd-new" in rt.connectors, 5)
    zendesk.webhook_url = f"{console.url}/webhooks/zd-new"
    requester = zendesk.add_user("Maria", "maria@example.com")
    ticket = zendesk.create_ticket(requester, "Where is my parcel?")
    [resp] = zendesk.set_status(ticket.id, "solved")
    assert resp.status_code == 202
    assert "The first signed webhook arrived" in admin.get("/admin/connectors/zd-new/first-webhook").text
    listing = admin.get("/admin/connectors").text
    assert "zendesk-main" in listing and "provisioned" in listing and "zd-new" in listing
    logged = capfd.readouterr()
    assert TOKEN not in logged.out + logged.err and SECRET not in logged.out + logged.err


def test_the_files_ids_are_refused_and_its_connectors_read_only(console, rt, zendesk):
    admin = signed_in(console, "ada@acme.test")
    admin.get("/admin/connectors/new?kind=zendesk")
    refused = admin.post("/admin/connectors/new", form(zendesk, id="zendesk-main"))
    assert refused.status_code == 422 and "configuration file already has" in refused.text
    page = admin.get("/admin/connectors/zendesk-main")
    assert page.status_code == 200 and "provisioned" in page.text and 'action="/admin' not in page.text
    for action in ("edit", "flags", "rotate", "delete"):
        assert admin.post(f"/admin/connectors/zendesk-main/{action}", {"action": "disable"}).status_code == 404
    assert admin.get("/admin/connectors/new?kind=nonesuch").status_code == 404


def test_addresses_are_checked_before_any_call(console, rt, zendesk, config, make_rt):
    admin = signed_in(console, "ada@acme.test")
    admin.get("/admin/connectors/new?kind=zendesk")
    before = zendesk.server.count()
    meta = admin.post("/admin/connectors/new", form(zendesk, base_url="http://169.254.169.254"))
    assert meta.status_code == 422 and "cloud metadata" in meta.text
    assert zendesk.server.count() == before


def test_edit_disable_dry_run_rotate_delete_each_audited(console, rt, zendesk):
    admin = signed_in(console, "ada@acme.test")
    admin.get("/admin/connectors/new?kind=zendesk")
    assert admin.post("/admin/connectors/new", form(zendesk)).status_code == 200  # saved, then provisioned
    admin.get("/admin/connectors/zd-new/edit")
    edited = admin.post("/admin/connectors/zd-new/edit", form(zendesk, **{"secret:api_token": "", "api_user_id": str(zendesk.api_user_id)}))
    assert edited.status_code == 303, edited.text  # a blank secret keeps the stored one (the test passed with it)
    admin.get("/admin/connectors/zd-new/edit")
    to_oauth = admin.post("/admin/connectors/zd-new/edit", form(zendesk, **{
        "secret:api_token": "", "clear:api_token": "on", "secret:oauth_token": TOKEN, "secret:webhook_secret": "", "email": "",
        "api_user_id": str(zendesk.api_user_id)}))
    assert to_oauth.status_code == 303, to_oauth.text  # from an API token to OAuth (the simulator takes both)
    admin.get("/admin/connectors/zd-new")
    assert admin.post("/admin/connectors/zd-new/flags", {"action": "dry-run"}).status_code == 303
    admin.get("/admin/connectors/zd-new")
    assert admin.post("/admin/connectors/zd-new/flags", {"action": "disable"}).status_code == 303
    wait_until(lambda: "zd-new" in rt.connectors and not rt.connector("zd-new").settings.enabled, 5)
    settings = rt.connector("zd-new").settings
    assert settings.dry_run and settings.api_user_id == str(zendesk.api_user_id)
    assert settings.secret("oauth_token") == TOKEN and not settings.has_secret("api_token") and settings.email is None
    admin.get("/admin/connectors/zd-new")
    rotated = admin.post("/admin/connectors/zd-new/rotate", {"secret": ""})
    assert rotated.status_code == 200 and "whsec_" in rotated.text and "accepted for" in rotated.text
    wait_until(lambda: len(rt.connector("zd-new").settings.secret_values("webhook_secret")) == 2, 5)
    assert admin.get("/admin/connectors/zd-new/delete").status_code == 200
    assert admin.post("/admin/connectors/zd-new/delete", {"data": "keep"}).status_code == 303
    wait_until(lambda: "zd-new" not in rt.connectors, 5)
    assert admin.get("/admin/connectors/zd-new").status_code == 404
    with rt.transaction() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.target == "connector:zd-new")
                            .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["connector.create", "connector.update", "connector.update",
                                           "connector.update", "connector.flags", "connector.flags",
                                           "connector.rotate_webhook_secret", "connector.delete"]
    assert all(e.actor.startswith("user:") and e.address == "127.0.0.1" for e in entries)
    # [1]: the signing secret provisioning read from Zendesk; [2]: the one the edit typed
    assert entries[1].detail["secrets_changed"] == entries[2].detail["secrets_changed"] == ["webhook_secret"]
    assert entries[3].detail == {
        "secrets_changed": ["oauth_token"], "secrets_removed": ["api_token"]}
    assert not any(TOKEN in str(e.detail) or SECRET in str(e.detail) for e in entries)


@pytest.mark.browser
def test_in_chromium_an_admin_adds_zendesk_until_the_first_webhook_arrives(console, rt, zendesk, browser):
    """Every page on the way scanned by axe-core too: no serious or critical violation."""
    found = {}
    sign_in(browser, console.url, "ada@acme.test")
    browser.get(f"{console.url}/admin/connectors")
    found["list"] = axe_scan(browser)
    browser.find_element(By.LINK_TEXT, "Add a connector").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "kind"))
    found["kind"] = axe_scan(browser)
    browser.find_element(By.CSS_SELECTOR, "#kind option[value=zendesk]").click()
    submit(browser)
    _fill(browser, ("f-id", "zendesk-main"), ("f-base_url", zendesk.url), ("f-email", "ops@acme.test"),
          ("s-api_token", TOKEN), ("s-webhook_secret", SECRET))
    submit(browser)
    found["form with problems"] = axe_scan(browser)
    browser.find_element(By.ID, "f-id").clear()
    _fill(browser, ("f-id", "zd-new"), ("s-api_token", TOKEN), ("s-webhook_secret", SECRET))
    submit(browser)
    # Zendesk sets itself up through its API: the webhook, its signing secret, a signed test delivery
    assert "created webhook 'ces-worker (zd-new)'" in browser.page_source.replace("&#39;", "'")
    assert f"signed test webhook accepted by {console.url}/webhooks/zd-new" in browser.page_source
    assert "arrived" in browser.find_element(By.ID, "first-webhook").text
    assert TOKEN not in browser.page_source and SECRET not in browser.page_source
    found["provisioned in the helpdesk"] = axe_scan(browser)
    screenshot(browser, "admin-connector-provisioned")
    wait_until(lambda: "zd-new" in rt.connectors, 5)
    zendesk.webhook_url = f"{console.url}/webhooks/zd-new"
    ticket = zendesk.create_ticket(zendesk.add_user("Maria", "maria@example.com"), "Where is my parcel?")
    assert zendesk.set_status(ticket.id, "solved")[0].status_code == 202
    browser.get(f"{console.url}/admin/connectors/zd-new")
    WebDriverWait(browser, 10, ignored_exceptions=SWAPPED).until(
        lambda b: "(2 so far)" in b.find_element(By.ID, "first-webhook").text)
    found["arrived"] = axe_scan(browser)
    screenshot(browser, "admin-connector-arrived")
    browser.get(f"{console.url}/admin/connectors/zd-new/delete")
    found["delete"] = axe_scan(browser)
    browser.get(f"{console.url}/admin/connectors/zendesk-main")
    found["provisioned"] = axe_scan(browser)
    assert found == {page: [] for page in found}


def _fill(browser, *pairs: tuple[str, str]) -> None:
    for element_id, value in pairs:
        browser.find_element(By.ID, element_id).send_keys(value)


def test_a_kind_that_can_provision_does_and_its_secrets_are_stored(console, rt, zendesk, monkeypatch):
    """What provision() returns: its steps shown, its secrets stored encrypted like those typed; a
    failed provisioning asks the helpdesk for no test delivery."""
    from ces.connectors.base import Provisioned
    from ces.connectors.models import CheckResult
    from ces.connectors.zendesk.connector import ZendeskConnector

    made = Provisioned([CheckResult("webhook", False, "Zendesk refused 01HPROVISIONED")],
                       {"webhook_secret": "secret-from-the-helpdesk-99"})
    monkeypatch.setattr(ZendeskConnector, "provision", lambda self: made)
    monkeypatch.setattr(ZendeskConnector, "test_delivery", lambda self: pytest.fail("no test after a failure"))
    admin = signed_in(console, "ada@acme.test")
    admin.get("/admin/connectors/new?kind=zendesk")
    page = admin.post("/admin/connectors/new", form(zendesk))
    assert page.status_code == 200 and "Zendesk refused 01HPROVISIONED" in page.text
    assert "secret-from-the-helpdesk-99" not in page.text
    wait_until(lambda: "zd-new" in rt.connectors, 5)
    assert rt.connector("zd-new").settings.secret("webhook_secret") == "secret-from-the-helpdesk-99"


def test_every_kind_has_a_form_from_its_settings_model(console, rt):
    from ces.connectors.registry import connector_class, known_kinds

    admin = signed_in(console, "ada@acme.test")
    for kind in known_kinds():
        page = admin.get(f"/admin/connectors/new?kind={kind}")
        assert page.status_code == 200, kind
        for name in connector_class(kind).Settings.secret_names:
            assert f'name="secret:{name}" type="password"' in page.text, (kind, name)
        assert 'id="f-id"' in page.text and "_env" not in page.text


FRESH_INSTALL = "\n[console]\nallow_http_helpdesks = true\n" + E2E_HEALTH  # probes every second


@pytest.mark.slow
def test_done_when_a_fresh_install_gets_zendesk_from_the_console_and_a_revoked_token_speaks_up(
        config, make_rt, sink, app_port, tmp_path, zendesk):
    """Issue 13's "Done when", in real processes (serve, worker, scheduler): a configuration with no
    connector; an admin adds Zendesk in the console with its API token alone (provisioning makes the
    webhook and reads its secret); a solved ticket's survey arrives; the token revoked in Zendesk →
    within the probe interval the health page and `ces status` say failing, and one notice goes out."""
    config.write(FRESH_INSTALL, smtp_port=sink.port, connectors=" ")  # database, broker, URL, SMTP; no connector
    env = config.env() | {secretbox.VARIABLE: Fernet.generate_key().decode()}
    service = Service(env, app_port, tmp_path).start(["serve", "--port", str(app_port)], ["worker"], ["scheduler"])
    add_user(make_rt(), "ada@acme.test", "admin")

    def notices() -> list[str]:
        return [m["Subject"] for m in sink.messages if "zd-new" in m["Subject"]]

    try:
        service.wait_ready()
        admin = signed_in(service, "ada@acme.test")
        page = admin.get("/admin/connectors/new?kind=zendesk").text
        assert "leave blank: it is set up in the helpdesk through its API" in page
        saved = admin.post("/admin/connectors/new", {"kind": "zendesk", "id": "zd-new", "base_url": zendesk.url,
                                                     "email": "ops@acme.test", "secret:api_token": TOKEN})
        assert saved.status_code == 200, saved.text
        assert "created webhook &#39;ces-worker (zd-new)&#39;" in saved.text
        assert f"signed test webhook accepted by {service.url}/webhooks/zd-new" in saved.text
        assert "switch off Zendesk&#39;s own satisfaction survey" in saved.text
        assert zendesk.webhook_url == f"{service.url}/webhooks/zd-new"
        ticket = zendesk.create_ticket(zendesk.add_user("Maria", "maria@example.com"), "Where is my parcel?")
        assert zendesk.set_status(ticket.id, "solved")[0].status_code == 202  # a worker may not have polled yet
        wait_until(lambda: any("maria@example.com" in m["To"] for m in sink.messages), 30, message="the survey")
        assert notices() == []
        zendesk.token = "revoked-in-zendesk"
        wait_until(notices, 20, message="the failing notice")
        time.sleep(3)  # more probes of the same incident: no second notice
        assert notices() == ["ces-worker: Failing: Zendesk · zd-new"]
        health = html.unescape(admin.get("/admin/health").text)
        assert "rejected our credentials (answered 401" in health
        assert "set it in api_token / oauth_token of connector zd-new (Edit at /admin/connectors/zd-new)" in health
        status = service.cli("status")
        assert status.returncode == 1 and "connector:zd-new" in status.stdout and "401" in status.stdout
    except AssertionError:
        print(service.log_tail())
        raise
    finally:
        service.stop()


@pytest.mark.browser
def test_in_chromium_an_admin_adds_zammad_and_the_page_waits_for_the_first_webhook(console, rt, browser):
    """Zammad through its API: provisioning creates the webhook and the trigger (the webhook secret
    left blank is made here and given to Zammad); Zammad sends no test webhook, so the page waits,
    until a ticket closed in Zammad sends a signed one. Every page scanned by axe-core."""
    zammad = ZammadSimulator(token="zm-console-token").start()
    customer = zammad.add_user("Ana", "Souza", "ana.souza@example.com")
    ticket = zammad.create_ticket(customer, "Refund still missing", owner_id=zammad.agent_id)  # the check reads one
    found = {}
    try:
        sign_in(browser, console.url, "ada@acme.test")
        browser.get(f"{console.url}/admin/connectors/new?kind=zammad")
        found["form"] = axe_scan(browser)
        _fill(browser, ("f-id", "zm-new"), ("f-base_url", zammad.url), ("s-api_token", "zm-console-token"))
        submit(browser)
        text = browser.page_source.replace("&#39;", "'")
        assert "created webhook 'ces-worker (zm-new)'" in text and "created trigger" in text, text
        assert [len(zammad.records[kind]) for kind in ("webhooks", "triggers")] == [1, 1]
        assert "waiting for the first real one" in text and "zm-console-token" not in text
        assert "Waiting for the first signed webhook" in browser.find_element(By.ID, "first-webhook").text
        found["provisioned, waiting"] = axe_scan(browser)
        screenshot(browser, "admin-connector-zammad-waiting")
        wait_until(lambda: "zm-new" in rt.connectors, 5)
        assert zammad.set_status(ticket.id, "closed")[0].status_code == 202
        WebDriverWait(browser, 10, ignored_exceptions=SWAPPED).until(
            lambda b: "The first signed webhook arrived" in b.find_element(By.ID, "first-webhook").text)
        found["arrived"] = axe_scan(browser)
        screenshot(browser, "admin-connector-zammad-arrived")
    finally:
        zammad.stop()
    assert found == {page: [] for page in found}


def test_deleting_with_erase_takes_the_connectors_data_and_audits_the_counts(console, rt, zendesk):
    from ces.worker.db.models import WebhookEvent

    admin = signed_in(console, "ada@acme.test")
    admin.get("/admin/connectors/new?kind=zendesk")
    assert admin.post("/admin/connectors/new", form(zendesk)).status_code == 200  # its test webhook stored

    def events() -> int:
        with rt.transaction() as s:
            return len(s.scalars(select(WebhookEvent).where(WebhookEvent.connector_id == "zd-new")).all())

    assert events() == 1
    page = admin.get("/admin/connectors/zd-new/delete").text
    assert 'name="data" value="keep" checked' in page and 'name="data" value="erase"' in page
    assert admin.post("/admin/connectors/zd-new/delete", {"data": "everything"}).status_code == 404
    assert events() == 1 and "zd-new" in [c.row_id for c in stored_connectors.stored(rt)]
    done = admin.post("/admin/connectors/zd-new/delete", {"data": "erase"})
    assert done.status_code == 303 and done.headers["location"].endswith("?done=erased")
    assert events() == 0 and "zd-new" not in [c.row_id for c in stored_connectors.stored(rt)]
    with rt.transaction() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.target == "connector:zd-new",
                                                     AuditEntry.action.in_(["connector.delete", "connector.erase"]))
                            .order_by(AuditEntry.id)).all()
    assert [(e.action, e.detail.get("data")) for e in entries] == [("connector.delete", "erasing"),
                                                                     ("connector.erase", None)]
    assert entries[1].detail["events"] == 1 and entries[1].detail["tickets"] == 0
    assert "Deleted, and its data erased." in admin.get("/admin/connectors?done=erased").text
