"""The admin pages (/admin/queues, /admin/people, /admin/tokens, /admin/audit): for admins only,
every POST behind CSRF, each action the same function as its `ces` command and one audit entry,
and the audit log without customer data."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import requests
from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from ces.worker.api import tokens
from ces.worker.console import users
from ces.worker.db.models import (
    Alert,
    ApiToken,
    AuditEntry,
    EventState,
    Survey,
    SurveyState,
    User,
    WebhookEvent,
)
from ces.worker.privacy import erase
from ces.worker.web.app import create_app
from tests.admin_data import CUSTOMER, failed_survey, parked_event
from tests.console import SIZES, Client, add_user, new_signed_in, screenshot, sign_in
from tests.followup_data import seed
from tests.support import ServedApp, cli

GETS = ["/admin", "/admin/queues", "/admin/people", "/admin/tokens", "/admin/audit"]


@pytest.fixture
def console(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def user_id(rt, email: str) -> int:
    return next(p["id"] for p in users.listing(rt) if p["email"] == email)


def audit_rows(rt) -> list[AuditEntry]:
    with rt.transaction() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def actions_shown(page: str) -> list[str]:
    return re.findall(r"<td class=\"nowrap\"><code>([^<]+)</code></td>", page)


def new_rows(rt, before: int) -> list[tuple[str, str, str | None]]:
    return [(e.actor, e.action, e.target) for e in audit_rows(rt)[before:]]


def assert_no_customer_data(rt) -> None:
    """Nothing in the log is an e-mail address (of a customer or of anyone) or a comment."""
    text = json.dumps([[e.actor, e.action, e.target, e.address, e.detail] for e in audit_rows(rt)])
    assert "@" not in text and "Never again" not in text


def state_of(rt, model, row_id: int) -> str:
    with rt.transaction() as s:
        return s.get(model, row_id).state


def test_the_admin_pages_are_for_admins_only_and_their_posts_need_the_csrf_token(rt, console):
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    lead = new_signed_in(console, rt, "lee@acme.test", "lead", teams=("Billing",))
    agent = new_signed_in(console, rt, "amy@acme.test", "agent")
    amy = user_id(rt, "amy@acme.test")
    posts = {"/admin/queues/surveys": {"id": "1"}, "/admin/queues/events": {"id": "1"},
             "/admin/people/invite": {"email": "eve@acme.test", "role": "admin"},
             f"/admin/people/{amy}/change": {"role": "admin"}, f"/admin/people/{amy}/reset": {},
             f"/admin/people/{amy}/disable": {"confirm": "1"},
             "/admin/tokens/create": {"person": "lee@acme.test", "scope": "read:answers", "days": "9"},
             "/admin/tokens/1/revoke": {}}
    for path in GETS:
        assert Client(console.url).get(path).headers["location"] == f"/login?next={path}", path
        for c in (lead, agent):
            assert c.get(path).status_code == 403, path
        assert admin.get(path, allow_redirects=True).status_code == 200, path
    logged = len(audit_rows(rt))
    for path, data in posts.items():
        assert Client(console.url).post(path, data).status_code in (303, 403), path
        for c in (lead, agent):
            c.get("/")
            assert c.post(path, data).status_code == 403, path
        expired = admin.post(path, data, csrf="")
        assert expired.status_code == 403 and "This form has expired" in expired.text, path
        assert admin.post(path, data, csrf="not-the-token").status_code == 403, path
    assert len(audit_rows(rt)) == logged  # nothing happened
    with rt.transaction() as s:
        assert s.scalar(select(User.role).where(User.id == amy)) == "agent"
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 0


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_the_queues_list_what_failed_and_resend_it_by_the_rules_of_ces_surveys_resend(rt, console):
    seed(rt)
    ok, uncertain = failed_survey(rt, "5001"), failed_survey(rt, "5002", SurveyState.UNCERTAIN)
    elsewhere = failed_survey(rt, "6001", connector="zammad-eu")
    with rt.transaction() as s:  # #1001's survey was answered: a resend is refused, as on the CLI
        answered = s.scalar(select(Survey.id).where(Survey.ticket_external_id == "1001"))
        s.get(Survey, answered).state, s.get(Survey, answered).reason = SurveyState.FAILED, "timeout"
        alert = s.scalar(select(Alert.id).where(Alert.content["ticket_id"].as_string() == "1001"))
        s.get(Alert, alert).state, s.get(Alert, alert).reason = "failed", "Slack said 500"
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    admin_id = user_id(rt, "ada@acme.test")

    page = admin.get("/admin/queues").text
    assert "Surveys: 4</a> · " in page and "Alerts: 1</a> · " in page and "Parked events: 0</a>" in page
    assert all(f'value="{i}"' in page for i in (ok, uncertain, elsewhere, answered))
    assert "550 mailbox" in page and "Uncertain" in page
    only = admin.get("/admin/queues?connector=zammad-eu").text
    assert f'value="{elsewhere}"' in only and f'value="{ok}"' not in only
    only = admin.get("/admin/queues?state=uncertain").text
    assert f'value="{uncertain}"' in only and f'value="{ok}"' not in only
    assert "Slack said 500" in admin.get("/admin/queues?kind=alerts").text

    logged = len(audit_rows(rt))
    resp = admin.post("/admin/queues/surveys", {"id": [ok, uncertain, answered]},
                      headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status_code == 200
    assert re.search(rf"Queued again: {ok}\.", resp.text)
    assert f"survey {uncertain} is uncertain: it may have arrived" in resp.text
    assert f"survey {answered} was answered: its mail arrived" in resp.text
    assert (state_of(rt, Survey, ok), state_of(rt, Survey, uncertain)) == ("pending", "uncertain")
    assert new_rows(rt, logged) == [(f"user:{admin_id}", "survey.resend", f"survey:{ok}")]
    assert audit_rows(rt)[-1].detail == {"was": "failed"}

    resp = admin.post("/admin/queues/surveys", {"id": str(uncertain), "uncertain": "1"})
    assert f"Queued again: {uncertain}." in resp.text and state_of(rt, Survey, uncertain) == "pending"
    resp = admin.post("/admin/queues/alerts", {"id": str(alert)})
    assert f"Queued again: {alert}." in resp.text and state_of(rt, Alert, alert) == "pending"
    assert admin.post("/admin/queues/surveys", {}).status_code == 400
    assert admin.post("/admin/queues/nothing", {"id": "1"}).status_code == 404
    assert [e.action for e in audit_rows(rt)[logged:]] == ["survey.resend"] * 2 + ["alert.resend"]
    assert [e.address for e in audit_rows(rt)[logged:]] == ["203.0.113.9", "127.0.0.1", "127.0.0.1"]  # from where
    assert_no_customer_data(rt)
    kept = [(e.id, e.detail) for e in audit_rows(rt)]
    erase(rt, CUSTOMER)
    assert [(e.id, e.detail) for e in audit_rows(rt)][:len(kept)] == kept  # `ces erase` needs nothing here


def test_a_resend_on_the_command_line_is_audited_too_and_reasons_stay_text(rt, console, capsys):
    survey = failed_survey(rt, "5001")
    with rt.transaction() as s:
        s.get(Survey, survey).reason = "<script>alert(1)</script> refused"
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    page = admin.get("/admin/queues").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; refused" in page and "<script>alert" not in page
    assert cli(capsys, "surveys", "resend", str(survey)) == (0, f"survey {survey} queued again\n", "")
    [entry] = [e for e in audit_rows(rt) if e.action == "survey.resend"]
    assert (entry.actor, entry.target, entry.address, entry.detail) == ("cli", f"survey:{survey}", None,
                                                                        {"was": "failed"})


def test_parked_events_are_paged_and_replayed_as_ces_events_replay_does(rt, console):
    ids = [parked_event(rt, n) for n in range(52)]
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    first = admin.get("/admin/queues?kind=events").text
    shown = [int(i) for i in re.findall(r'name="id" value="(\d+)"', first)]
    assert shown == sorted(ids, reverse=True)[:50] and "not a valid Status" in first
    older = re.search(r'href="(/admin/queues\?[^"]+)" rel="next"|rel="next" href="([^"]+)"', first)
    rest = admin.get(next(g for g in older.groups() if g).replace("&amp;", "&")).text
    assert [int(i) for i in re.findall(r'name="id" value="(\d+)"', rest)] == sorted(ids, reverse=True)[50:]

    logged = len(audit_rows(rt))
    resp = admin.post("/admin/queues/events", {"id": ids[:2]})
    assert f"Queued again: {ids[0]}, {ids[1]}." in resp.text
    assert state_of(rt, WebhookEvent, ids[0]) == EventState.RECEIVED
    again = admin.post("/admin/queues/events", {"id": str(ids[0])})
    assert f"event {ids[0]} is received already" in again.text
    assert [(e.action, e.target) for e in audit_rows(rt)[logged:]] == [("event.replay", f"event:{i}") for i in ids[:2]]


def test_people_are_invited_reset_changed_and_disabled_with_their_sessions_and_tokens(rt, console):
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    logged = len(audit_rows(rt))
    invited = admin.post("/admin/people/invite", {"email": "Eve@Acme.test", "name": "Eve", "role": "lead",
                                                  "teams": "Billing, Returns"})
    link = re.search(r'(http[^<"]+/login/link/[^<"]+)', invited.text).group(1)
    assert invited.status_code == 200 and users.open_link(rt, link.rsplit("/", 1)[1]).email == "eve@acme.test"
    assert link not in admin.get("/admin/people").text  # shown once
    [eve] = [p for p in users.listing(rt) if p["email"] == "eve@acme.test"]
    assert (eve["role"], eve["teams"]) == ("lead", ["Billing", "Returns"])
    assert admin.post("/admin/people/invite", {"email": "eve@acme.test", "role": "agent"}).status_code == 400

    assert admin.post(f"/admin/people/{eve['id']}/change", {"role": "agent", "teams": "Returns"}).status_code == 303
    assert [(p["role"], p["teams"]) for p in users.listing(rt) if p["id"] == eve["id"]] == [("agent", ["Returns"])]
    reset = admin.post(f"/admin/people/{eve['id']}/reset", {"totp": "1"})
    assert "/login/link/" in reset.text and users.open_link(rt, link.rsplit("/", 1)[1]) is None  # the older link died
    assert admin.post("/admin/people/999999/reset").status_code == 404

    amy = new_signed_in(console, rt, "amy@acme.test", "agent")
    amy_id = user_id(rt, "amy@acme.test")
    made = admin.post("/admin/tokens/create", {"person": "amy@acme.test", "scope": "read:answers", "days": "30"})
    secret = re.search(r"(ces_[A-Za-z0-9_-]{20,})", made.text).group(1)
    api = requests.get(f"{console.url}/api/v1/answers", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert amy.get("/").status_code == 200 and api.status_code == 200
    unconfirmed = admin.post(f"/admin/people/{amy_id}/disable")
    assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.text
    disabled = admin.post(f"/admin/people/{amy_id}/disable", {"confirm": "1"})
    assert disabled.headers["location"] == "/admin/people?done=disabled"
    assert amy.get("/").headers["location"] == "/login"  # the session is gone at the next request
    api = requests.get(f"{console.url}/api/v1/answers", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert api.status_code == 401
    assert [t["state"] for t in tokens.listing(rt)] == ["revoked"]
    assert f'action="/admin/people/{amy_id}/enable"' in admin.get("/admin/people").text
    enabled = admin.post(f"/admin/people/{amy_id}/enable")  # back again, with a new link; tokens stay revoked
    again = re.search(r'(http[^<"]+/login/link/[^<"]+)', enabled.text).group(1)
    assert users.open_link(rt, again.rsplit("/", 1)[1]).email == "amy@acme.test"
    assert [t["state"] for t in tokens.listing(rt)] == ["revoked"]
    assert admin.post(f"/admin/people/{amy_id}/enable").status_code == 409  # not disabled

    assert [a for _, a, _ in new_rows(rt, logged)] == ["user.add", "user.change", "user.reset", "user.add",
                                                       "sign_in", "token.create", "api.answers", "user.disable",
                                                       "user.enable"]
    assert_no_customer_data(rt)


def test_the_last_admin_can_be_neither_disabled_nor_demoted(rt, console):
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    ada = user_id(rt, "ada@acme.test")
    for action, data in (("disable", {"confirm": "1"}), ("change", {"role": "lead"})):
        resp = admin.post(f"/admin/people/{ada}/{action}", data)
        assert resp.status_code == 409 and "is the last admin" in resp.text
    add_user(rt, "bo@acme.test", "admin")
    with rt.transaction() as s:  # a disabled admin does not count
        s.execute(User.__table__.update().where(User.email == "bo@acme.test").values(disabled_at=rt.now()))
    assert admin.post(f"/admin/people/{ada}/change", {"role": "lead"}).status_code == 409
    add_user(rt, "cy@acme.test", "admin")
    assert admin.post(f"/admin/people/{ada}/change", {"role": "lead"}).status_code == 303
    assert admin.get("/admin/people").status_code == 403  # a lead now: the next request knows it
    with rt.transaction() as s:
        assert s.scalar(select(User.role).where(User.id == ada)) == "lead"


def test_tokens_are_made_listed_and_revoked_as_ces_tokens_does(rt, console):
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    add_user(rt, "lee@acme.test", "lead")
    ada = user_id(rt, "ada@acme.test")
    logged = len(audit_rows(rt))
    made = admin.post("/admin/tokens/create", {"person": "lee@acme.test", "name": "BI export",
                                               "scope": ["read:answers", "read:reports"], "days": "7"})
    secret = re.search(r"(ces_[A-Za-z0-9_-]{20,})", made.text).group(1)
    listed = admin.get("/admin/tokens").text
    assert secret not in listed and f"<code>{secret[:10]}</code>" in listed
    assert "BI export" in listed and "read:answers, read:reports" in listed and "ada@acme.test" in listed
    assert (rt.now() + timedelta(days=7)).strftime("%Y-%m-%d") in listed
    with rt.transaction() as s:
        token = s.scalar(select(ApiToken))
        assert token.token_hash != secret and token.created_by == f"user:{ada}"
    assert admin.post("/admin/tokens/create", {"person": "lee@acme.test", "scope": "write:all"}).status_code == 400
    assert admin.post("/admin/tokens/create", {"person": "lee@acme.test", "scope": "read:flags",
                                               "days": "many"}).status_code == 400
    assert admin.post(f"/admin/tokens/{token.id}/revoke").headers["location"] == "/admin/tokens?done=revoked"
    api = requests.get(f"{console.url}/api/v1/answers", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert api.status_code == 401
    assert admin.post(f"/admin/tokens/{token.id}/revoke").status_code == 409
    assert new_rows(rt, logged) == [(f"user:{ada}", "token.create", f"token:{token.id}"),
                                    (f"user:{ada}", "token.revoke", f"token:{token.id}")]


def test_the_audit_log_page_filters_by_day_actor_and_action_and_stores_no_address(rt, console):
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    add_user(rt, "lee@acme.test", "lead")
    lee = new_signed_in(console, rt, "lee2@acme.test", "lead")
    assert lee.get("/").status_code == 200
    ada = user_id(rt, "ada@acme.test")
    with rt.transaction() as s:
        old = s.scalar(select(AuditEntry).order_by(AuditEntry.id))
        old.at = rt.now() - timedelta(days=10)
    page = admin.get("/admin/audit").text
    assert {"user.add", "sign_in"} <= set(actions_shown(page)) and "ada@acme.test" in page  # beside user:N
    by_ada = admin.get("/admin/audit?actor=ada@acme.test").text
    assert f"user:{ada}" in by_ada and actions_shown(by_ada) == ["sign_in"]  # accounts were added by the CLI
    assert set(actions_shown(admin.get("/admin/audit?action=sign_in").text)) == {"sign_in"}
    since = (rt.now() - timedelta(days=1)).date().isoformat()
    shown = re.findall(r"<tr>\s*<td", admin.get(f"/admin/audit?since={since}").text)
    assert len(shown) == len(audit_rows(rt)) - 1  # all but the old one
    assert admin.get("/admin/audit?since=nonsense&before=x&action=" + "a" * 500).status_code == 200
    assert_no_customer_data(rt)


def test_the_single_sign_on_group_mapping_is_shown_as_configured(config, make_rt, app_port, monkeypatch):
    monkeypatch.setenv("TEST_OIDC_SECRET", "not-used-here")
    config.write(extra='\n[console.oidc]\nissuer = "https://login.acme.example"\nclient_id = "ces"\n'
                       'client_secret_env = "TEST_OIDC_SECRET"\n'
                       'roles = { "ces-admins" = "admin", "support-leads" = "lead" }\n'
                       'teams = { "support-leads" = ["Billing"], "team-returns" = ["Returns"] }\n')
    rt = make_rt()
    with ServedApp(create_app(rt), app_port) as served:
        page = new_signed_in(served, rt, "ada@acme.test", "admin").get("/admin/people").text
    rows = re.findall(r"<tr><td dir=\"auto\">([^<]+)</td><td>([^<]+)</td><td dir=\"auto\">([^<]+)</td></tr>", page)
    assert rows == [("ces-admins", "admin", "–"), ("support-leads", "lead", "Billing"), ("team-returns", "–", "Returns")]
    assert "https://login.acme.example" in page and "not-used-here" not in page


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_invite_too_long_for_its_columns_is_a_clear_400_and_no_command_line_advice(rt, console):
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    for form, said in (({"email": "eve@acme.test", "name": "E" * 201}, "a name is at most 200 characters"),
                       ({"email": "e" * 65 + "@acme.test"}, "is too long for an e-mail address"),
                       ({"email": "eve@" + "a" * 250 + ".test"}, "is too long for an e-mail address")):
        resp = admin.post("/admin/people/invite", {"role": "lead", **form})
        assert resp.status_code == 400 and said in resp.text, form
    assert admin.post("/admin/people/invite", {"email": "eve@acme.test", "name": "E" * 200, "role": "lead"}).ok
    again = admin.post("/admin/people/invite", {"email": "eve@acme.test", "role": "lead"})
    assert again.status_code == 400 and "eve@acme.test has an account already" in again.text
    assert "ces users" not in again.text  # the page has its own button for a new link
    assert admin.post("/admin/people/invite", {"email": "user%relay@acme.test", "role": "lead"}).ok
    again = admin.post("/admin/people/invite", {"email": "user%relay@acme.test", "role": "lead"})
    assert again.status_code == 400 and "user%relay@acme.test has an account already" in again.text
    odd = admin.post("/admin/people/invite", {"email": "%(x)s" + "e" * 70 + "@acme.test", "role": "lead"})
    assert odd.status_code == 400 and "%(x)s" in odd.text


def page_widths(browser) -> dict[str, int]:
    """How wide the page lays out at each of the screenshots' sizes (wider than the viewport: it
    scrolls sideways as a whole)."""
    widths = {}
    try:
        for label, (width, height) in SIZES.items():
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", dict(
                width=width, height=height, deviceScaleFactor=1, mobile=label != "desktop"))
            widths[label] = browser.execute_script("return document.documentElement.scrollWidth")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return widths


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_people_page_keeps_its_width_whatever_the_names(rt, console, browser):
    add_user(rt, "ada@acme.test", "admin", name="Ada Admin")
    users.add(rt, "x" * 64 + "@" + "long-domain-" * 10 + "acme.test", "lead", ["Billing"], "N" * 200)
    sign_in(browser, console.url, "ada@acme.test", next_path="/admin/people")
    assert browser.find_element(By.TAG_NAME, "h1").text == "People"
    widths = page_widths(browser)
    assert all(widths[label] <= width for label, (width, _) in SIZES.items()), widths
    screenshot(browser, "console-admin-people")
