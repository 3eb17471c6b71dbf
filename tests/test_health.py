"""Health that speaks up (README "Health"): counters in Redis shared by every process, the rules,
the admins' notices once per incident, `ces status` and the admin page /admin/health."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest
import requests
import responses
from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from ces.config import load_settings
from ces.worker.db.models import Base
from ces.worker.health import counters as counters_module
from ces.worker.health import rules
from ces.worker.health.check import HEALTH_CHECK, on_sweep, run_check, watch_once
from ces.worker.health.counters import Counters
from ces.worker.health.report import health
from ces.worker.mail import MailNotSent, send_mail
from ces.worker.web.app import create_app
from tests.console import Client, add_user, screenshot, sign_in
from tests.node_tools import axe_scan
from tests.simulators.zammad import ZammadSimulator
from tests.support import ZENDESK_TOKEN, ServedApp, Service, cli, fixture_bytes, wait_until, zendesk_headers

ZENDESK_ME = "https://acme.zendesk.com/api/v2/users/me.json"
RATE_KEY = "zendesk:https://acme.zendesk.com"
ADMIN_HOOK = "https://hooks.example.test/ces-admin"
HEALTH = """
[health]
signature_failures = 5
signature_minutes = 10
sweep_seconds = 30

[[admin.routes]]
name = "ops"
type = "webhook"
url_env = "TEST_ADMIN_HOOK"
"""


@pytest.fixture
def hrt(config, make_rt, monkeypatch, sink):
    monkeypatch.setenv("TEST_ADMIN_HOOK", ADMIN_HOOK)
    config.write(HEALTH, smtp_port=sink.port)
    return make_rt()


def admin_route(name: str, kind: str, **keys) -> str:
    """One [[admin.routes]] table (its values written as JSON, which TOML reads the same)."""
    return "".join([f'\n[[admin.routes]]\nname = "{name}"\ntype = "{kind}"\n',
                    *(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())])


def component(report: dict, name: str) -> dict:
    return next(c for c in report["components"] if c["name"] == name)


# --- the rules, one by one ----------------------------------------------------------------------
NOW = 1_800_000_000.0


def test_a_401_or_403_fails_at_once_and_an_answer_since_clears_it():
    assert rules.api_refused({"auth_status": 401, "last_api_error_at": NOW}, "api_token_env").state == rules.FAILING
    assert "permission" in rules.api_refused({"auth_status": 403}, "x").cause
    assert rules.api_refused({"last_api_status": 404}, "x") is None  # one missing ticket is not the connector


def test_unreachable_warns_then_fails_after_the_threshold():
    assert rules.unreachable({}, NOW, 15) is None
    assert rules.unreachable({"down_since": NOW - 14 * 60}, NOW, 15).state == rules.WARNING
    found = rules.unreachable({"down_since": NOW - 15 * 60, "last_api_error": "unreachable (DNS name not found)"},
                              NOW, 15)
    assert found.state == rules.FAILING and "15 min" in found.cause and "DNS" in found.cause


def test_a_burst_of_signature_failures_asks_whether_the_secret_was_rotated():
    assert rules.signature_burst(4, 5, 10, "webhook_secret_env") is None
    found = rules.signature_burst(5, 5, 10, "webhook_secret_env of connector z")
    assert found.state == rules.WARNING and "secret rotated?" in found.cause and "webhook_secret_env" in found.fix


def test_smtp_fails_when_unreachable_and_warns_on_a_mailbox_refused_until_refusals_follow_each_other():
    assert rules.smtp_refusing({}, 3) is None
    assert rules.smtp_refusing({"last_refusal_at": NOW - 5, "last_send_at": NOW}, 3) is None
    unreachable = {"last_refusal_at": NOW, "last_send_at": NOW - 5, "refusals_in_a_row": 1,
                   "last_refusal": "cannot reach the mail server 127.0.0.1:1: ConnectionRefusedError"}
    assert rules.smtp_refusing(unreachable, 3).state == rules.FAILING
    refused = {"last_refusal_at": NOW, "refusals_in_a_row": 2,
               "last_refusal": "mail server answered 550 5.1.1 <address>: unknown user"}
    assert rules.smtp_refusing(refused, 3).state == rules.WARNING and "550" in refused["last_refusal"]
    assert rules.smtp_refusing({**refused, "refusals_in_a_row": 3}, 3).state == rules.FAILING


def test_a_backlog_fails_only_when_it_grew_for_the_whole_window_without_draining():
    growing = [(NOW - 660 + 60 * i, 10 + i) for i in range(12)]
    assert rules.backlog_growing(growing, NOW, 10).state == rules.FAILING
    assert rules.backlog_growing(growing[-5:], NOW, 10) is None  # not yet watched for 10 min
    drained = [(t, 0 if i == 6 else n) for i, (t, n) in enumerate(growing)]
    assert rules.backlog_growing(drained, NOW, 10) is None
    shrinking = [(t, 100 - n) for t, n in growing]
    assert rules.backlog_growing(shrinking, NOW, 10) is None


def test_no_sweep_for_a_minute_is_failing():
    assert rules.scheduler_silent(NOW - 59, NOW, 60) is None
    assert rules.scheduler_silent(NOW - 61, NOW, 60).state == rules.FAILING
    assert "never swept" in rules.scheduler_silent(None, NOW, 60).cause


# --- counters in Redis ------------------------------------------------------------------------------
BUMP = """
import sys
from ces.config import load_settings
from ces.worker.health.counters import Counters
c = Counters(load_settings())
for _ in range(5):
    c.webhook("zendesk-main", "accepted")
c.webhook("zendesk-main", "bad_signature")  # written by the flush at exit
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_counters_bumped_by_two_processes_add_up(hrt, config):
    for _ in range(3):
        hrt.health.webhook("zendesk-main", "accepted")
    subprocess.run([sys.executable, "-c", BUMP], env=config.env(), check=True, timeout=60)
    hrt.health.webhook("zendesk-main", "stale_timestamp")
    assert sum(hrt.health.per_minute("webhooks", "zendesk-main", 60)) == 8
    assert sum(hrt.health.per_minute("signature_failures", "zendesk-main", 60)) == 2
    facts = component(health(hrt), "connector:zendesk-main")["facts"]
    assert (facts["webhooks_last_hour"], facts["webhooks_last_day"], facts["webhooks_per_hour"][-1]) == (8, 8, 8)


REFUSED = type("Refused", (Exception,), {"status": 401, "cause": "answered 401: wrong credentials"})


def quiet_counters(config, monkeypatch) -> Counters:
    """Counters of their own whose flusher sleeps through the test: only the test flushes."""
    monkeypatch.setattr(counters_module, "FLUSH_SECONDS", 3600)
    return Counters(load_settings())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refusal_after_pending_successes_stays_and_a_success_after_it_clears_it(hrt, config, monkeypatch):
    c = quiet_counters(config, monkeypatch)
    c.clock = lambda: NOW  # one time for all: only the order of the writes tells them apart
    c.api_call(RATE_KEY, "ok", None)
    c.api_call(RATE_KEY, "permanent", REFUSED())  # written at once, after the pending success
    c.flush()
    api = c.facts(f"api:{RATE_KEY}")
    assert (api["auth_status"], api["calls"], api["errors"], api["last_ok"]) == (401, 2, 1, NOW)
    c.api_call(RATE_KEY, "ok", None)
    assert "auth_status" not in c.facts(f"api:{RATE_KEY}")  # reading flushes: the success since clears it
    assert component(health(hrt), "connector:zendesk-main")["facts"]["api_calls"] == 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_success_another_process_flushes_late_does_not_clear_a_later_refusal(hrt, config, monkeypatch):
    times = iter([NOW, NOW + 1])
    late, prompt = quiet_counters(config, monkeypatch), quiet_counters(config, monkeypatch)
    late.clock = prompt.clock = lambda: next(times)
    late.api_call(RATE_KEY, "ok", None)  # NOW, still in the first process's memory
    prompt.api_call(RATE_KEY, "permanent", REFUSED())  # NOW + 1, in Redis at once
    late.flush()
    api = prompt.facts(f"api:{RATE_KEY}")
    assert (api["auth_status"], api["calls"], api["last_ok"]) == (401, 2, NOW)
    assert component(health(hrt), "connector:zendesk-main")["state"] == rules.FAILING


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_successful_calls_and_surveys_cost_no_redis_round_trip_until_the_flush(hrt, config, monkeypatch):
    c = quiet_counters(config, monkeypatch)
    pipelines = []
    real = c.client.pipeline
    monkeypatch.setattr(c.client, "pipeline", lambda *a, **k: pipelines.append(1) or real(*a, **k))
    for _ in range(100):
        c.api_call(RATE_KEY, "ok", None)
    for state in ("sent", "sent", "failed", "preparing"):
        c.survey("zendesk-main", state)
    assert pipelines == []
    assert c.facts(f"api:{RATE_KEY}")["calls"] == 100 and len(pipelines) == 1  # reading flushes first
    assert (sum(c.per_minute("surveys_sent", "zendesk-main", 60)),
            sum(c.per_minute("surveys_failed", "zendesk-main", 60))) == (2, 1)
    facts = component(health(hrt), "connector:zendesk-main")["facts"]
    assert (facts["surveys_sent_last_day"], facts["surveys_failed_last_day"]) == (2, 1)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_mail_accepted_is_flushed_late_without_undoing_a_later_refusal_and_counts_wait_for_the_flush(
        hrt, config, monkeypatch):
    times = iter([NOW, NOW + 1, NOW + 2, NOW + 3])
    late, prompt = quiet_counters(config, monkeypatch), quiet_counters(config, monkeypatch)
    late.clock = prompt.clock = lambda: next(times)
    pipelines = []
    real = late.client.pipeline
    monkeypatch.setattr(late.client, "pipeline", lambda *a, **k: pipelines.append(1) or real(*a, **k))
    late.smtp(None)  # NOW: accepted, in this process's memory
    late.count_later("ces:test:api_calls", "zendesk|ok")
    assert pipelines == []
    prompt.smtp("550 mailbox unavailable")  # NOW + 1, in Redis at once
    late.flush()  # the older acceptance neither hides the refusal nor resets its count
    smtp = prompt.facts("smtp")
    assert (smtp["last_send_at"], smtp["last_refusal_at"], smtp["refusals_in_a_row"]) == (NOW, NOW + 1, 1)
    assert int(late.client.hget("ces:test:api_calls", "zendesk|ok")) == 1
    prompt.smtp(None)  # NOW + 2, pending
    prompt.smtp("421 try later")  # NOW + 3: written after the acceptance before it
    smtp = prompt.facts("smtp")
    assert (smtp["last_send_at"], smtp["refusals_in_a_row"]) == (NOW + 2, 1)
    late.client.delete("ces:test:api_calls")


def _rows(rt) -> dict[str, int]:
    with rt.engine.connect() as db:
        return {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_flood_of_forged_webhooks_writes_no_database_row_and_reads_as_a_rotated_secret(hrt, app_port):
    body = fixture_bytes("zendesk", "status_changed_solved.json")
    before = _rows(hrt)
    with ServedApp(create_app(hrt), app_port) as app:
        for i in range(40):
            resp = app.post("/webhooks/zendesk-main", body, zendesk_headers(body, secret="forged", invocation=f"f{i}"))
            assert resp.status_code == 401
    assert _rows(hrt) == before
    c = component(health(hrt), "connector:zendesk-main")
    assert c["facts"]["signature_failures_last_hour"] == 40 and c["facts"]["webhooks_last_hour"] == 0
    assert c["state"] == rules.WARNING and "secret rotated?" in c["findings"][0]["cause"]


# --- a revoked token: page, `ces status`, one notice, one recovery ---------------------------------
def _notices(mock) -> list[dict]:
    return [json.loads(call.request.body) for call in mock.calls if call.request.url == ADMIN_HOOK]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_revoked_helpdesk_token_fails_the_page_and_ces_status_and_notifies_once_then_recovers(
        hrt, make_rt, zendesk_api, app_port, capsys):
    zendesk_api.add(responses.POST, ADMIN_HOOK, status=200)
    zendesk_api.add(responses.GET, ZENDESK_ME, status=401, json={"error": "Couldn't authenticate you"})
    hrt.health.swept()
    other_process = make_rt()  # a second worker checking at the same time notifies nothing more
    for rt in (hrt, other_process, hrt):
        run_check(rt)
    [notice] = _notices(zendesk_api)
    assert notice["type"] == "ces.health.failing" and notice["component"] == "connector:zendesk-main"
    assert hrt.http.limiter.current(RATE_KEY) == 3  # each probe spent the account's shared budget
    assert "401" in notice["text"] and "api_token_env" in notice["text"]
    code, out, _ = cli(capsys, "status", "--format", "json")
    shown = component(json.loads(out), "connector:zendesk-main")
    assert code == 1 and shown["state"] == "failing" and "rejected our credentials" in shown["findings"][0]["cause"]
    assert ZENDESK_TOKEN not in out + json.dumps(notice)
    add_user(hrt, "ada@acme.test", "admin")
    with ServedApp(create_app(hrt), app_port) as served:
        admin = Client(served.url)
        admin.sign_in("ada@acme.test")
        page = admin.get("/admin/health").text
        assert "rejected our credentials (answered 401" in page and 'class="badge health-failing"' in page
        assert ZENDESK_TOKEN not in page and ADMIN_HOOK not in page  # secrets never shown
        zendesk_api.replace(responses.GET, ZENDESK_ME, json={"user": {"id": 8447388090400, "role": "admin",
                                                                      "name": "CES"}})
        for rt in (other_process, hrt):
            run_check(rt)
        assert [n["type"] for n in _notices(zendesk_api)] == ["ces.health.failing", "ces.health.recovered"]
        assert 'class="badge health-failing"' not in admin.get("/admin/health").text
    code, out, _ = cli(capsys, "status")
    assert code == 0 and "overall: ok" in out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_slack_and_teams_routes_carry_the_notice_as_plain_text(config, make_rt, monkeypatch, zendesk_api):
    from ces.worker.health.notify import notify_changes

    monkeypatch.setenv("TEST_SLACK", "https://hooks.slack.test/T0/B0/x")
    monkeypatch.setenv("TEST_TEAMS", "https://teams.example.test/webhook/x")
    config.write(admin_route("slack", "slack", url_env="TEST_SLACK") + admin_route("teams", "teams", url_env="TEST_TEAMS"))
    rt = make_rt()
    for url in ("https://hooks.slack.test/T0/B0/x", "https://teams.example.test/webhook/x"):
        zendesk_api.add(responses.POST, url, status=200)
    failing = dict(name="smtp", title="SMTP", state="failing", facts={},
                   findings=[dict(state="failing", cause="the mail server refuses: 535", fix="check the login")])
    assert notify_changes(rt, dict(components=[failing])) == ["failing:smtp"]
    assert notify_changes(rt, dict(components=[failing])) == []
    slack, teams = (json.loads(c.request.body) for c in zendesk_api.calls)
    assert slack == {"text": "Failing: SMTP\nCause: the mail server refuses: 535\nFix: check the login\n"
                             f"Health: {rt.settings.public_url}/admin/health"}
    lines = [block["inlines"][0]["text"] for block in teams["attachments"][0]["content"]["body"]]
    assert lines == slack["text"].splitlines()


# --- SMTP, scheduler, Redis ----------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_refusing_mail_server_fails_smtp_until_a_mail_goes_out(hrt, sink):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "support@acme.test", "maria@example.test", "hello"
    msg.set_content("hi")
    closed = hrt.settings.smtp.model_copy(update={"port": 1})
    with pytest.raises(MailNotSent):
        send_mail(closed, msg)
    smtp = component(health(hrt), "smtp")
    assert smtp["state"] == "failing" and "cannot reach the mail server" in smtp["findings"][0]["cause"]
    send_mail(hrt.settings.smtp, msg)
    assert component(health(hrt), "smtp")["state"] == "ok"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_sweep_is_recorded_and_the_check_queued_once_per_interval(hrt, queue):
    assert component(health(hrt), "scheduler")["state"] == "failing"
    for _ in range(3):
        on_sweep(hrt)
    assert [task for task, _ in queue.items].count(HEALTH_CHECK) == 1
    assert component(health(hrt), "scheduler")["state"] == "ok"
    assert len(hrt.health.backlog_samples()) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_silent_scheduler_is_noticed_by_one_worker_and_notified_once(hrt, make_rt, zendesk_api):
    zendesk_api.add(responses.POST, ADMIN_HOOK, status=200)
    zendesk_api.add(responses.GET, ZENDESK_ME, json={"user": {"id": 8447388090400, "role": "admin", "name": "CES"}})
    other_worker = make_rt()
    assert watch_once(hrt) is not None and watch_once(other_worker) is None  # one check per interval
    [notice] = _notices(zendesk_api)
    assert notice["component"] == "scheduler" and "start exactly one `ces scheduler`" in notice["text"]
    hrt.health.swept()
    assert watch_once(other_worker) is None
    run_check(other_worker)
    assert [n["type"] for n in _notices(zendesk_api)] == ["ces.health.failing", "ces.health.recovered"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_redis_down_shows_in_ces_status_while_readyz_stays_ready(config, make_rt, app_port, sink, capsys):
    config.write(redis_url="redis://127.0.0.1:1/0", smtp_port=sink.port)
    rt = make_rt()
    started = time.monotonic()
    for _ in range(3):  # never raises: the first flush fails within its timeout, then recording pauses
        rt.health.webhook("zendesk-main", "accepted")
        rt.health.flush()
    assert time.monotonic() - started < 2
    with ServedApp(create_app(rt), app_port) as app:
        ready = app.get("/readyz")
    assert ready.status_code == 200 and ready.json()["broker"].startswith("unavailable")
    code, out, _ = cli(capsys, "status")
    assert code == 1 and "redis" in out and "does not answer" in out


# --- the page: admins only; what it looks like ---------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_only_admins_reach_the_health_page(hrt, app_port):
    with ServedApp(create_app(hrt), app_port) as served:
        assert requests.get(f"{served.url}/admin/health", allow_redirects=False, timeout=10).status_code in (303, 401)
        for email, role in (("lea@acme.test", "lead"), ("abe@acme.test", "agent"), ("ada@acme.test", "admin")):
            add_user(hrt, email, role, teams=("Billing",) if role != "admin" else ())
            c = Client(served.url)
            c.sign_in(email)
            resp = c.get("/admin/health")
            assert resp.status_code == (200 if role == "admin" else 403), role
            assert ('href="/admin"' in c.get("/").text) == (role == "admin")
            if role != "admin":
                assert "zendesk-main" not in resp.text


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_health_page_in_a_browser(hrt, app_port, browser):
    for _ in range(7):
        hrt.health.webhook("zendesk-main", "accepted")
    for _ in range(6):
        hrt.health.webhook("zendesk-main", "bad_signature")
    hrt.health.api_call(RATE_KEY, "permanent",
                        type("E", (Exception,), {"status": 401, "cause": "answered 401: wrong credentials"})())
    hrt.health.swept()
    add_user(hrt, "ada@acme.test", "admin")
    with ServedApp(create_app(hrt), app_port) as served:
        sign_in(browser, served.url, "ada@acme.test")
        browser.find_element(By.CSS_SELECTOR, "nav a[href='/admin']").click()
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Health")
        drawn = browser.execute_script("var c = document.querySelector('canvas[data-bars]');"
                                       "return !!(window.Chart && window.Chart.getChart(c));")
        assert drawn, "Chart.js drew the webhooks per hour from their table"
        assert "secret rotated?" in browser.page_source
        screenshot(browser, "console-admin-health")
        assert axe_scan(browser) == []


def test_the_readme_example_validates():
    import re
    import tomllib
    from pathlib import Path

    from ces.config.models import AdminSettings, HealthSettings

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[[admin.routes]]" in b]
    data = tomllib.loads(block)
    assert HealthSettings.model_validate(data["health"]) == HealthSettings()  # the defaults, written out
    assert {r.type for r in AdminSettings.model_validate(data["admin"]).routes} == {"email", "slack"}


E2E_HEALTH = """
[health]
probe_seconds = 1

[[admin.routes]]
name = "ops"
type = "email"
to = ["ops@acme.test"]
"""


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_revoked_token_is_noticed_by_the_running_service_within_seconds(config, make_rt, sink, app_port,
                                                                          tmp_path, monkeypatch):
    """Real processes: the scheduler queues the check, a worker probes the Zammad simulator; the
    token revoked there → one notice by mail and the page failing; restored → one recovery."""
    sim = ZammadSimulator(token="zm-token", secret="zm-secret").start()
    monkeypatch.setenv("TEST_ZM_TOKEN", "zm-token")
    monkeypatch.setenv("TEST_ZM_SECRET", "zm-secret")
    table = f'''[[connectors]]
id = "zammad-main"
kind = "zammad"
base_url = "{sim.url}"
api_token_env = "TEST_ZM_TOKEN"
webhook_secret_env = "TEST_ZM_SECRET"
'''
    config.write(E2E_HEALTH, smtp_port=sink.port, connectors=table)
    env = {**config.env(), "TEST_ZM_TOKEN": "zm-token", "TEST_ZM_SECRET": "zm-secret"}
    service = Service(env, app_port, tmp_path).start(["serve", "--port", str(app_port)], ["worker"], ["scheduler"])
    add_user(make_rt(), "ada@acme.test", "admin")

    def notices() -> list[str]:
        return [m["Subject"] for m in sink.messages if "zammad-main" in m["Subject"]]

    with service.running(sim):
        service.wait_ready()
        time.sleep(2)  # a few checks while the token works: nothing to say
        assert notices() == []
        sim.token = "revoked-in-zammad"
        wait_until(lambda: notices(), 20, message="the failing notice")
        time.sleep(3)  # more checks of the same incident: no second notice
        assert notices() == ["ces-worker: Failing: Zammad · zammad-main"]
        admin = Client(service.url)
        admin.sign_in("ada@acme.test")
        assert "rejected our credentials (answered 401" in admin.get("/admin/health").text
        sim.token = "zm-token"
        wait_until(lambda: len(notices()) == 2, 20, message="the recovery notice")
        assert notices()[1] == "ces-worker: Recovered: Zammad · zammad-main is ok again."


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_config_check_names_an_admin_route_whose_secret_is_not_set(config, capsys):
    config.write(admin_route("ops", "slack", url_env="TEST_UNSET_ADMIN_SLACK")
                 + admin_route("mail", "email", to_assignee=True))
    from ces.worker.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["config", "check", "--offline"])
    code, captured = done.value.code, capsys.readouterr()
    out, err = captured.out, captured.err
    assert code == 1
    assert "admin.routes[0].url_env" in out + err and "TEST_UNSET_ADMIN_SLACK" in out + err
    assert "an admin email route needs to = [addresses]" in out + err


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_connector_gone_from_the_report_closes_its_incident_unannounced(hrt, zendesk_api):
    """Removed from the file (or deleted in the console) while failing: no stale incident, no
    recovery notice; back later and failing, it is notified afresh."""
    from ces.worker.health.notify import notify_changes

    zendesk_api.add(responses.POST, ADMIN_HOOK, status=200)

    def failing(name: str) -> dict:
        return dict(name=name, title=name, state="failing", facts={},
                    findings=[dict(state="failing", cause="answered 401", fix="a new token")])

    assert notify_changes(hrt, dict(components=[failing("connector:old"), failing("connector:kept")])) == [
        "failing:connector:old", "failing:connector:kept"]
    redis_down = dict(name="redis", title="Redis", state="failing", facts={}, findings=[])
    assert notify_changes(hrt, dict(components=[redis_down])) == []  # no connector listed then: none closes
    assert notify_changes(hrt, dict(components=[failing("connector:old"), failing("connector:kept")])) == []
    assert notify_changes(hrt, dict(components=[failing("connector:kept")])) == []  # old: gone, nothing sent
    assert notify_changes(hrt, dict(components=[failing("connector:old"), failing("connector:kept")])) == [
        "failing:connector:old"]
    assert [json.loads(c.request.body)["type"] for c in zendesk_api.calls] == ["ces.health.failing"] * 3
