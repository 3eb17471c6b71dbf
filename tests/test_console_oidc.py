"""Single sign-on against a real OpenID Connect provider (tests/node/oidc_server.mjs, the npm package
oidc-provider) in a real Chromium: the button on /login, the provider's own sign-in, back to the
console signed in as the group mapping says; refused with a clear page when no group is mapped."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import select

from ces.worker.console import users
from ces.worker.db.models import User
from ces.worker.web.app import create_app
from tests.console import Client, add_user, screenshot, submit
from tests.support import ServedApp

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

OIDC = """
[console.oidc]
issuer = "{issuer}"
client_id = "{client_id}"
client_secret_env = "TEST_OIDC_SECRET"
scopes = ["openid", "email", "profile", "groups"]
roles = {{ "ces-admins" = "admin", "support-leads" = "lead" }}
teams = {{ "team-billing" = ["Billing"], "team-returns" = ["Returns"] }}
"""


@pytest.fixture
def oidc_redirect_uri(app_port) -> str:
    return f"http://127.0.0.1:{app_port}/login/oidc/callback"


@pytest.fixture
def rt(config, make_rt, oidc_provider, monkeypatch):
    monkeypatch.setenv("TEST_OIDC_SECRET", oidc_provider.client_secret)
    config.write(extra=OIDC.format(issuer=oidc_provider.issuer, client_id=oidc_provider.client_id))
    return make_rt()


@pytest.fixture
def console(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def sign_in_at_the_provider(browser, console, account: str) -> None:
    browser.get(f"{console.url}/login?next=/account")
    submit(browser, "a[href^='/login/oidc']")
    browser.find_element(By.NAME, "login").send_keys(account)
    browser.find_element(By.NAME, "password").send_keys("any password")
    submit(browser, "button[type=submit]")


def user(rt, email: str) -> User | None:
    with rt.transaction() as s:
        found = s.scalar(select(User).where(User.email == email))
        if found is not None:
            s.expunge(found)
        return found


@pytest.mark.browser
def test_a_lead_signs_in_with_single_sign_on_as_their_groups_say(rt, console, browser):
    browser.get(f"{console.url}/login")
    assert browser.find_element(By.LINK_TEXT, "Sign in with single sign-on")
    screenshot(browser, "console-login-sso")
    sign_in_at_the_provider(browser, console, "lead")
    assert browser.current_url == f"{console.url}/account"  # where they were going
    facts = browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert "Lee Lead" in facts and "lead@acme.test" in facts and "Billing" in facts and "single sign-on" in facts
    assert not browser.find_elements(By.ID, "current")  # no password to change: the provider has it
    created = user(rt, "lead@acme.test")
    assert (created.role, created.teams, created.oidc_subject, created.password_hash) == ("lead", ["Billing"],
                                                                                          "lead", None)
    assert browser.get_cookie("ces_oidc") is None  # the flow's cookie is gone


@pytest.mark.browser
def test_someone_in_no_mapped_group_is_refused_with_a_clear_page(rt, console, browser):
    sign_in_at_the_provider(browser, console, "agent")  # groups support-agents, team-billing: no role
    assert browser.find_element(By.TAG_NAME, "h1").text == "Single sign-on did not sign you in"
    assert "not in a group that may use the console" in browser.find_element(By.TAG_NAME, "main").text
    assert user(rt, "agent@acme.test") is None
    browser.get(f"{console.url}/")
    assert browser.current_url == f"{console.url}/login"


@pytest.mark.browser
def test_the_provider_decides_role_and_teams_of_an_existing_account_and_a_disabled_one_stays_out(
        rt, console, browser, capsys):
    add_user(rt, "admin@acme.test", "agent", teams=("Returns",))  # made by hand before single sign-on
    sign_in_at_the_provider(browser, console, "admin")
    assert browser.current_url == f"{console.url}/account"
    linked = user(rt, "admin@acme.test")
    assert (linked.role, linked.teams, linked.oidc_subject) == ("admin", [], "admin")
    assert linked.password_hash is not None  # the password still works too

    users.disable(rt, "admin@acme.test")
    browser.delete_all_cookies()
    sign_in_at_the_provider(browser, console, "admin")
    assert "Your console account is disabled" in browser.find_element(By.TAG_NAME, "main").text


def test_a_way_back_that_this_browser_did_not_start_is_refused(rt, console):
    started = Client(console.url)
    go = started.get("/login/oidc")
    assert go.status_code == 303 and go.headers["location"].startswith(rt.settings.console.oidc.issuer)
    assert "code_challenge_method=S256" in go.headers["location"] and "nonce=" in go.headers["location"]
    state = go.headers["location"].split("state=")[1].split("&")[0]
    # Another browser (an attacker's link) with a code and the right state, but not the flow's cookie.
    other = Client(console.url)
    refused = other.get(f"/login/oidc/callback?code=x&state={state}")
    assert refused.status_code == 400 and "started elsewhere" in refused.text
    # The flow's own browser with a state that is not the flow's.
    refused = started.get("/login/oidc/callback?code=x&state=not-the-state")
    assert refused.status_code == 400 and "ces_session" not in refused.headers.get("set-cookie", "")
    # A forged cookie (the flow made up, not signed here).
    forged = Client(console.url)
    forged.http.cookies.set("ces_oidc", started.http.cookies.get("ces_oidc").split(".")[0] + ".00",
                            path="/login/oidc")
    assert forged.get(f"/login/oidc/callback?code=x&state={state}").status_code == 400


def test_without_single_sign_on_there_is_no_button_and_no_route(config, make_rt, app_port):
    rt = make_rt()
    with ServedApp(create_app(rt), app_port) as app:
        client = Client(app.url)
        assert "single sign-on" not in client.get("/login").text
        assert client.get("/login/oidc").status_code == 404


def test_config_check_names_a_missing_client_secret_and_an_empty_mapping(config, capsys, monkeypatch):
    from tests.test_cli import call

    monkeypatch.delenv("TEST_OIDC_SECRET", raising=False)
    config.write(extra=OIDC.format(issuer="https://login.acme.example", client_id="ces"))
    code, _, err = call(capsys, "config", "check", "--offline")
    assert code == 1 and "console.oidc.client_secret_env: environment variable TEST_OIDC_SECRET is not set" in err
    config.write(extra='\n[console.oidc]\nissuer = "https://login.acme.example"\nclient_id = "ces"\n'
                       'client_secret_env = "TEST_OIDC_SECRET"\n')
    code, _, err = call(capsys, "config", "check", "--offline")
    assert code == 1 and "console.oidc" in err and "map at least one group to a role" in err
