"""Signing in to the console, as people do it (a real Chromium) and as an attacker would try it
(plain HTTP): passwords, one-time links, the second factor, throttling, CSRF, session expiry,
disabling, a password change, and where the sign-in sends you afterwards."""

from __future__ import annotations

import threading

import pyotp
import pytest
import requests
from fastapi import Depends, Request
from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from ces.worker.console import passwords, users
from ces.worker.console.auth import Caller, require
from ces.worker.console.render import page
from ces.worker.console.security import console_router
from ces.worker.db.models import ConsoleSession, SignInLink, User
from ces.worker.web.app import create_app
from tests.console import PASSWORD, Client, add_user, routes_of, screenshot, sign_in, sign_out, submit
from tests.support import ServedApp, cli

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # HTTP and pages: one database is enough


@pytest.fixture
def rt(make_rt, clock):
    return make_rt(clock=clock)


@pytest.fixture
def console(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def sessions_of(rt, email: str) -> int:
    with rt.transaction() as s:
        return s.scalar(select(func.count()).select_from(ConsoleSession).join(User).where(User.email == email))


# --- with a browser ------------------------------------------------------------------------------
@pytest.mark.browser
def test_a_lead_signs_in_sees_who_they_are_and_signs_out(rt, console, browser):
    add_user(rt, "Lee@Acme.test", "lead", teams=("Billing", "Returns"), name="Lee Lead")
    browser.get(f"{console.url}/")
    assert browser.current_url == f"{console.url}/login"  # signed out: the sign-in page
    screenshot(browser, "console-login")
    sign_in(browser, console.url, "LEE@acme.test ")  # the address as typed: case and spaces do not matter
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"  # the overview of their teams
    assert "Billing, Returns" in browser.find_element(By.CSS_SELECTOR, ".scope-line").text
    assert browser.find_element(By.CSS_SELECTOR, "a.who-name").text == "Lee Lead"
    assert browser.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "Overview"
    screenshot(browser, "console-home")
    sign_out(browser)
    assert "You are signed out." in browser.find_element(By.CSS_SELECTOR, ".notice").text
    browser.get(f"{console.url}/")
    assert browser.current_url == f"{console.url}/login"


@pytest.mark.browser
def test_a_wrong_password_says_so_without_telling_whether_the_account_exists(rt, console, browser):
    add_user(rt, "lee@acme.test")
    sign_in(browser, console.url, "lee@acme.test", "not the password")
    known = browser.find_element(By.CSS_SELECTOR, ".error").text
    assert known == "The e-mail address or the password is wrong."
    assert browser.find_element(By.ID, "email").get_attribute("value") == "lee@acme.test"  # kept for the retry
    sign_in(browser, console.url, "nobody@acme.test", "not the password")
    assert browser.find_element(By.CSS_SELECTOR, ".error").text == known


def test_an_unknown_address_costs_one_argon2_verification_as_a_known_one_does(rt, monkeypatch):
    add_user(rt, "lee@acme.test")
    verified, real = [], passwords.hasher

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, stored, password):
            verified.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(passwords, "hasher", Counting())
    assert users.password_sign_in(rt, "nobody@acme.test", "guess guess guess") is None
    assert users.password_sign_in(rt, "lee@acme.test", "guess guess guess") is None
    assert users.password_sign_in(rt, "lee@acme.test", PASSWORD).email == "lee@acme.test"
    assert len(verified) == 3 and verified[0].startswith("$argon2id$")  # the dummy is a real Argon2 hash


@pytest.mark.browser
def test_a_one_time_link_sets_the_password_and_is_used_up_only_by_the_post(rt, console, browser):
    link = add_user(rt, "amy@acme.test", "agent", name="Amy Agent", password=None)
    assert link.startswith(f"{rt.settings.public_url}/login/link/")
    for _ in range(2):  # a mail scanner opening the link first spends nothing
        browser.get(link)
        assert browser.find_element(By.TAG_NAME, "h1").text == "Set your password"
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "amy@acme.test" in page and "At least 12 characters, and not your e-mail address." in page
    screenshot(browser, "console-link")

    def set_password(password: str, confirm: str) -> None:
        for field, value in (("password", password), ("confirm", confirm)):
            browser.find_element(By.ID, field).clear()
            browser.find_element(By.ID, field).send_keys(value)
        submit(browser)

    browser.execute_script("document.querySelectorAll('[minlength]').forEach(e => e.removeAttribute('minlength'))")
    set_password("short", "short")  # the server's rule, not only the browser's
    assert browser.find_element(By.CSS_SELECTOR, ".error").text == "The password needs at least 12 characters."
    browser.execute_script("document.querySelectorAll('[minlength]').forEach(e => e.removeAttribute('minlength'))")
    set_password("amy@acme.test", "amy@acme.test")
    assert browser.find_element(By.CSS_SELECTOR, ".error").text == "The password cannot be your e-mail address."
    set_password("a long enough password", "another long password")
    assert browser.find_element(By.CSS_SELECTOR, ".error").text == "The two passwords are not the same."
    set_password("a long enough password", "a long enough password")
    assert browser.current_url == f"{console.url}/login?done=password"
    assert browser.find_element(By.CSS_SELECTOR, ".notice").text == "Your password is set. Sign in with it."
    sign_in(browser, console.url, "amy@acme.test", "a long enough password")
    assert browser.find_element(By.CSS_SELECTOR, "a.who-name").text == "Amy Agent"

    browser.get(link)  # used up
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link cannot be used"


def test_a_second_post_to_a_link_is_a_404_and_changes_nothing(rt, console):
    link = add_user(rt, "amy@acme.test", "agent", password=None)
    path = link.removeprefix(rt.settings.public_url)
    client = Client(console.url)
    assert client.get(path).status_code == 200
    assert client.post(path, {"password": "the first password", "confirm": "the first password"}).status_code == 303
    again = client.post(path, {"password": "a second password!", "confirm": "a second password!"})
    assert again.status_code == 404 and "This link cannot be used" in again.text
    assert users.password_sign_in(rt, "amy@acme.test", "the first password") is not None
    assert client.get("/login/link/" + "x" * 43).status_code == 404  # a made-up one


def test_a_link_expires_after_a_day_and_a_reset_replaces_the_older_one(rt, console, clock):
    first = add_user(rt, "amy@acme.test", "agent", password=None)
    client = Client(console.url)
    clock.advance(24 * 3600 + 1)
    assert client.get(first.removeprefix(rt.settings.public_url)).status_code == 404
    second, third = users.reset(rt, "amy@acme.test"), users.reset(rt, "amy@acme.test")
    assert client.get(second.removeprefix(rt.settings.public_url)).status_code == 404  # the older unused one died
    assert client.get(third.removeprefix(rt.settings.public_url)).status_code == 200


@pytest.mark.browser
def test_the_second_factor_is_enrolled_with_a_code_and_then_asked_at_sign_in(rt, console, browser, clock):
    add_user(rt, "lee@acme.test", name="Lee Lead")
    sign_in(browser, console.url, "lee@acme.test")
    browser.get(f"{console.url}/account")
    screenshot(browser, "console-account")
    browser.get(f"{console.url}/account/totp")
    secret = browser.find_element(By.CSS_SELECTOR, "code.secret").text
    assert browser.find_element(By.CSS_SELECTOR, "img.qr").get_attribute("src").startswith("data:image/svg+xml")
    screenshot(browser, "console-totp-enrol")
    browser.find_element(By.ID, "code").send_keys("000000" if pyotp.TOTP(secret).at(clock.now) != "000000" else "1")
    submit(browser)
    assert "That code is not right" in browser.find_element(By.CSS_SELECTOR, ".error").text
    assert browser.find_element(By.CSS_SELECTOR, "code.secret").text == secret  # the same secret: the app has it
    browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).at(clock.now))
    submit(browser)
    assert "Your second factor is on." in browser.find_element(By.CSS_SELECTOR, ".notice").text

    sign_out(browser)
    sign_in(browser, console.url, "lee@acme.test", next_path="/account")
    assert browser.current_url == f"{console.url}/login/totp?next=/account"
    screenshot(browser, "console-totp-step")
    for path in ("/", "/account"):  # half signed in: nothing else opens
        browser.get(console.url + path)
        assert browser.current_url == f"{console.url}/login/totp" + (f"?next={path}" if path != "/" else "")
    clock.advance(30)  # the enrolment's code is used: the next step's code
    browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).at(clock.now))
    submit(browser)
    assert browser.current_url == f"{console.url}/account"


def test_a_code_is_good_once(rt, console, clock):
    add_user(rt, "lee@acme.test")
    secret = pyotp.random_base32()
    with rt.transaction() as s:
        s.scalar(select(User).where(User.email == "lee@acme.test")).totp_secret = secret
    code = pyotp.TOTP(secret).at(clock.now)
    first, second = Client(console.url), Client(console.url)
    for client in (first, second):
        assert client.sign_in("lee@acme.test").headers["location"] == "/login/totp"
        client.get("/login/totp")
    assert first.post("/login/totp", {"code": code}).headers["location"] == "/"
    replay = second.post("/login/totp", {"code": code})
    assert replay.status_code == 401 and "used already" in replay.text
    assert second.get("/").headers["location"].startswith("/login/totp")


def test_admins_enrol_a_second_factor_before_anything_else_when_required(config, make_rt, clock, app_port):
    config.write(extra="\n[console]\nrequire_totp_for_admins = true\n")
    rt = make_rt(clock=clock)
    add_user(rt, "ada@acme.test", "admin")
    add_user(rt, "lee@acme.test", "lead")
    with ServedApp(create_app(rt), app_port) as app:
        admin, lead = Client(app.url), Client(app.url)
        admin.sign_in("ada@acme.test")
        for path in ("/", "/account"):
            assert admin.get(path).headers["location"] == "/account/totp"
        enrol = admin.get("/account/totp")
        assert enrol.status_code == 200 and "need a second factor before anything else" in enrol.text
        secret = enrol.text.split('class="secret">')[1].split("<")[0]
        assert admin.post("/account/totp", {"code": pyotp.TOTP(secret).at(clock.now)}).status_code == 303
        assert admin.get("/").status_code == 200
        lead.sign_in("lee@acme.test")
        assert lead.get("/").status_code == 200  # leads are not forced


# --- throttling -----------------------------------------------------------------------------------
def test_too_many_wrong_passwords_pause_the_account_even_for_the_right_one(config, make_rt, app_port):
    config.write(extra="\n[console]\nsignin_failures = 3\nsignin_window_minutes = 15\n")
    rt = make_rt()
    add_user(rt, "lee@acme.test")
    add_user(rt, "amy@acme.test", "agent")
    with ServedApp(create_app(rt), app_port) as app:
        client = Client(app.url)
        client.get("/login")
        for _ in range(3):
            assert client.post("/login", {"email": "lee@acme.test", "password": "guess guess guess"}).status_code == 401
        paused = client.post("/login", {"email": "Lee@acme.test", "password": PASSWORD})
        assert paused.status_code == 429 and "Try again in 15 minutes." in paused.text
        assert paused.headers["retry-after"] == "900" and paused.headers["cache-control"] == "no-store"
        assert client.post("/login", {"email": "amy@acme.test", "password": PASSWORD}).status_code == 303


def test_the_client_address_is_read_through_the_trusted_proxies_only(config, make_rt, app_port, monkeypatch):
    config.write(extra="\n[console]\nsignin_address_failures = 2\n")
    monkeypatch.setenv("CES_HTTP__TRUSTED_PROXIES", '["127.0.0.1/32"]')
    rt = make_rt()
    add_user(rt, "amy@acme.test", "agent")
    with ServedApp(create_app(rt), app_port) as app:
        # The client wrote 203.0.113.9 itself; the proxy appended the address it saw, 198.51.100.7.
        guesser = Client(app.url, address="203.0.113.9, 198.51.100.7")
        guesser.get("/login")
        for email in ("a@acme.test", "b@acme.test"):
            assert guesser.post("/login", {"email": email, "password": "guess guess guess"}).status_code == 401
        assert guesser.post("/login", {"email": "amy@acme.test", "password": PASSWORD}).status_code == 429
        # A different left-most address (anyone can write one) is the same client.
        spoofed = Client(app.url, address="192.0.2.1, 198.51.100.7")
        spoofed.get("/login")
        assert spoofed.post("/login", {"email": "amy@acme.test", "password": PASSWORD}).status_code == 429
        colleague = Client(app.url, address="198.51.100.8")
        colleague.get("/login")
        assert colleague.post("/login", {"email": "amy@acme.test", "password": PASSWORD}).status_code == 303


def test_a_flood_of_sign_ins_past_the_hash_pool_is_told_to_try_again(config, make_rt, app_port):
    config.write(extra="\n[console]\nhash_workers = 1\nhash_queue = 0\n")
    rt = make_rt()
    add_user(rt, "lee@acme.test")
    app = create_app(rt)
    release, started = threading.Event(), threading.Event()

    def busy():
        started.set()
        release.wait(30)

    import asyncio

    hog = threading.Thread(target=lambda: asyncio.run(app.state.console.hash_pool.run(busy)))
    with ServedApp(app, app_port) as served:
        hog.start()
        started.wait(10)
        client = Client(served.url)
        try:
            refused = client.sign_in("lee@acme.test")
            assert refused.status_code == 503 and "Too many sign-ins at once" in refused.text
            assert refused.headers["retry-after"] == "5"
        finally:
            release.set()
            hog.join(10)
        assert client.sign_in("lee@acme.test").status_code == 303


# --- CSRF ----------------------------------------------------------------------------------------
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(rt, console):
    add_user(rt, "lee@acme.test")
    client = Client(console.url)
    client.sign_in("lee@acme.test")
    client.get("/account")
    change = {"current": PASSWORD, "password": "a brand new password", "confirm": "a brand new password"}
    for token in ("", "wrong-token"):
        refused = client.post("/account/password", change, csrf=token)
        assert refused.status_code == 403 and "This form has expired" in refused.text
        assert refused.headers["content-security-policy"].startswith("default-src 'none'")
        assert client.post("/logout", csrf=token).status_code == 403
    assert users.password_sign_in(rt, "lee@acme.test", PASSWORD) is not None  # unchanged
    assert client.get("/").status_code == 200  # still signed in
    # The token as a header (htmx) is as good as the field.
    client.http.headers["X-CSRF-Token"] = client.csrf
    assert client.post("/logout", csrf="").status_code == 303
    assert client.get("/").status_code == 303

def test_the_sign_in_form_needs_the_token_of_its_own_cookie(rt, console):
    add_user(rt, "lee@acme.test")
    forger = Client(console.url)  # a page elsewhere posting the form: no ces_csrf cookie here
    refused = forger.post("/login", {"email": "lee@acme.test", "password": PASSWORD}, csrf="made-up")
    assert refused.status_code == 403 and "ces_session" not in refused.headers.get("set-cookie", "")
    other = Client(console.url)
    other.get("/login")
    forger.get("/login")
    crossed = forger.post("/login", {"email": "lee@acme.test", "password": PASSWORD}, csrf=other.csrf)
    assert crossed.status_code == 403


# --- sessions ------------------------------------------------------------------------------------
def test_an_idle_session_ends(rt, console, clock):
    add_user(rt, "lee@acme.test")
    client = Client(console.url)
    client.sign_in("lee@acme.test")
    clock.advance(59 * 60)
    assert client.get("/").status_code == 200  # a request keeps it alive
    clock.advance(59 * 60)
    assert client.get("/").status_code == 200
    clock.advance(60 * 60 + 1)
    assert client.get("/account").headers["location"] == "/login?next=/account"
    assert sessions_of(rt, "lee@acme.test") == 0


def test_a_session_ends_at_its_absolute_limit_however_busy(rt, console, clock):
    add_user(rt, "lee@acme.test")
    client = Client(console.url)
    client.sign_in("lee@acme.test")
    for _ in range(14):  # 11 h 40 min of steady use
        clock.advance(50 * 60)
        assert client.get("/").status_code == 200
    clock.advance(25 * 60)  # 12 h 5 min after signing in
    assert client.get("/").headers["location"] == "/login"


def test_disabling_a_user_signs_them_out_at_once(rt, console, capsys):
    add_user(rt, "lee@acme.test")
    client = Client(console.url)
    client.sign_in("lee@acme.test")
    assert client.get("/").status_code == 200
    code, out, _ = cli(capsys, "users", "disable", "Lee@Acme.test")
    assert code == 0 and out.strip() == "lee@acme.test disabled; 1 session(s) ended"
    assert client.get("/").headers["location"] == "/login"
    assert client.sign_in("lee@acme.test").status_code == 401


def test_a_disabled_user_is_signed_out_at_their_next_request(rt, console):
    add_user(rt, "lee@acme.test")
    client = Client(console.url)
    client.sign_in("lee@acme.test")
    with rt.transaction() as s:  # disabled some other way than `ces users disable` (no session deleted)
        s.scalar(select(User)).disabled_at = rt.now()
    assert client.get("/").headers["location"] == "/login"
    assert sessions_of(rt, "lee@acme.test") == 0


def test_a_password_change_ends_the_other_sessions(rt, console):
    add_user(rt, "lee@acme.test")
    laptop, phone = Client(console.url), Client(console.url)
    laptop.sign_in("lee@acme.test")
    phone.sign_in("lee@acme.test")
    laptop.get("/account")
    wrong = laptop.post("/account/password", {"current": "not it at all", "password": "a brand new password",
                                              "confirm": "a brand new password"})
    assert wrong.status_code == 400 and "current password is not right" in wrong.text
    changed = laptop.post("/account/password", {"current": PASSWORD, "password": "a brand new password",
                                                "confirm": "a brand new password"})
    assert changed.headers["location"] == "/account?done=password"
    assert laptop.get("/").status_code == 200
    assert phone.get("/").headers["location"] == "/login"
    assert users.password_sign_in(rt, "lee@acme.test", PASSWORD) is None
    assert users.password_sign_in(rt, "lee@acme.test", "a brand new password") is not None


@pytest.mark.parametrize(("asked", "lands"), [
    ("/account", "/account"), ("/account?done=totp", "/account?done=totp"),
    ("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"), ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),
])
def test_after_signing_in_only_a_path_on_this_site_is_followed(rt, console, asked, lands):
    add_user(rt, "lee@acme.test")
    client = Client(console.url)
    client.get("/login", params={"next": asked})
    done = client.post("/login", {"email": "lee@acme.test", "password": PASSWORD, "next": asked})
    assert done.status_code == 303 and done.headers["location"] == lands


def test_expired_sessions_and_links_are_dropped_by_retention(rt, clock):
    from ces.worker.console.sessions import drop_expired, start

    add_user(rt, "lee@acme.test")
    users.add(rt, "amy@acme.test", "agent", [])
    person = users.password_sign_in(rt, "lee@acme.test", PASSWORD)
    start(rt, person, "password", second_factor_done=True)
    assert drop_expired(rt) == {"console_sessions": 0, "sign_in_links": 0}
    clock.advance(25 * 3600)
    assert drop_expired(rt) == {"console_sessions": 1, "sign_in_links": 2}
    with rt.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SignInLink)) == 0


# --- what is served where -------------------------------------------------------------------------
def test_only_public_serves_no_console_and_only_console_no_webhooks(rt, app_port):
    with ServedApp(create_app(rt, only="public"), app_port) as app:
        client = Client(app.url)
        assert client.get("/login").status_code == 404
        assert client.get("/account").status_code == 404
        root = client.get("/")
        assert root.status_code == 200 and "<title>ces-worker</title>" in root.text  # what runs here
        assert client.http.post(f"{app.url}/webhooks/zendesk-main", data=b"{}", timeout=10).status_code == 401
    with ServedApp(create_app(rt, only="console"), app_port) as app:
        client = Client(app.url)
        assert client.get("/login").status_code == 200
        assert client.get("/").headers["location"] == "/login"
        for path in ("/webhooks/zendesk-main", "/webhooks/zendesk-main/"):
            assert client.http.post(app.url + path, data=b"{}", timeout=10).status_code == 404
        assert client.get("/s/" + "t" * 43).status_code == 404
        assert client.get("/healthz").status_code == 200


def test_a_disabled_console_leaves_the_small_root_page(config, make_rt, app_port):
    config.write(extra="\n[console]\nenabled = false\n")
    with ServedApp(create_app(make_rt()), app_port) as app:
        assert app.get("/login").status_code == 404
        assert "<title>ces-worker</title>" in app.get("/").text


def test_serve_only_console_refuses_a_disabled_console(config, capsys):
    config.write(extra="\n[console]\nenabled = false\n")
    from ces.worker.db.engine import make_engine
    from ces.worker.db.migrate import upgrade

    upgrade(make_engine(config.values["db_url"]))
    code, _, err = cli(capsys, "serve", "--only", "console")
    assert code == 1 and err.strip() == ("ces: the console is disabled ([console] enabled = false): nothing to "
                                         "serve with --only console")
    code, _, err = cli(capsys, "serve", "--only", "everything")
    assert code == 2 and "--only" in err


# --- what every answer carries ---------------------------------------------------------------------
def test_every_console_page_and_static_file_carries_the_strict_csp(rt, console):
    from ces.worker.console.security import CSP

    add_user(rt, "lee@acme.test")
    client = Client(console.url)
    pages = [client.get("/login"), client.get("/login/link/nothing-here")]
    client.sign_in("lee@acme.test")
    pages += [client.get(p) for p in ("/", "/account", "/account/totp")]
    for answer in pages:
        assert answer.headers["content-security-policy"] == CSP, answer.url
        assert answer.headers["cache-control"] == "no-store" and answer.headers["x-content-type-options"] == "nosniff"
        assert " style=" not in answer.text and "<style" not in answer.text, answer.url
        assert all(tag.startswith('<script src="/static/') for tag in answer.text.split("<script")[1:] for tag in
                   ["<script" + tag.split(">")[0]]), answer.url
    css = client.get("/static/console/console.css?v=1")
    assert css.status_code == 200 and css.headers["content-security-policy"] == CSP
    assert css.headers["x-content-type-options"] == "nosniff" and "immutable" in css.headers["cache-control"]
    assert client.get("/static/console/console.js").headers["cache-control"] == "no-cache"
    assert client.get("/static/console/nothing.css").status_code == 404


def test_every_console_route_goes_through_the_console_route_class(rt):
    """Where CSRF and the headers are applied: a route added without it would skip both."""
    from fastapi.routing import APIRoute

    from ces.worker.console.security import ConsoleRoute
    from ces.worker.console.site import ROUTERS

    routes = [r for router in ROUTERS for r in router.routes]
    assert routes and all(isinstance(r, ConsoleRoute) for r in routes)
    console_paths = {r.path for r in routes}
    served = [r for r in routes_of(create_app(rt)) if isinstance(r, APIRoute) and r.path in console_paths]
    assert {r.path for r in served} == console_paths and all(isinstance(r, ConsoleRoute) for r in served)


def test_a_session_cookie_is_secure_when_the_console_is_served_over_https(config, make_rt, app_port):
    config.write(extra='\n[console]\nurl = "https://ces.internal.example"\n')
    rt = make_rt()
    add_user(rt, "lee@acme.test")
    with ServedApp(create_app(rt), app_port) as app:
        form = app.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        token = form.cookies["ces_csrf"]  # a Secure cookie is not sent back over http: by hand
        done = requests.post(f"{app.url}/login", data={"csrf": token, "email": "lee@acme.test", "password": PASSWORD},
                             headers={"Cookie": f"ces_csrf={token}"}, allow_redirects=False, timeout=10)
    cookie = done.headers["set-cookie"]
    assert "ces_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert users.add(rt, "amy@acme.test", "agent", []).startswith("https://ces.internal.example/login/link/")


def test_a_page_for_other_roles_is_a_403_and_a_signed_out_htmx_request_is_sent_to_sign_in(rt, app_port):
    router = console_router()

    @router.get("/admins-only")
    async def admins_only(request: Request, caller: Caller = Depends(require("admin"))):
        return page(request, "home.html", caller=caller)

    app = create_app(rt)
    app.include_router(router)
    add_user(rt, "ada@acme.test", "admin")
    add_user(rt, "lee@acme.test", "lead")
    with ServedApp(app, app_port) as served:
        signed_out = Client(served.url)
        assert signed_out.get("/admins-only").headers["location"] == "/login?next=/admins-only"
        htmx = signed_out.get("/admins-only", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=/admins-only"
        lead, admin = Client(served.url), Client(served.url)
        lead.sign_in("lee@acme.test")
        admin.sign_in("ada@acme.test")
        refused = lead.get("/admins-only")
        assert refused.status_code == 403 and "Not for your role" in refused.text
        assert 'action="/logout"' in refused.text  # still the console's page, with its top bar
        assert refused.headers["content-security-policy"].startswith("default-src 'none'")
        assert admin.get("/admins-only").status_code == 200


def test_each_serve_mode_has_its_own_app_factory_for_several_processes(rt):
    from ces.worker.web.app import create_console_app, create_public_app

    def paths(app):
        return {getattr(route, "path", None) for route in routes_of(app)}

    public, console = paths(create_public_app()), paths(create_console_app())
    assert "/webhooks/{connector_id}" in public and "/login" not in public
    assert "/login" in console and "/webhooks/{connector_id}" not in console and "/s/{token}" not in console


def test_a_link_opened_in_a_browser_signed_in_as_someone_else_still_works(rt, console):
    """The form carries the token the POST is checked against, whichever session the browser has."""
    add_user(rt, "ada@acme.test", "admin")
    link = add_user(rt, "amy@acme.test", "agent", password=None)
    shared = Client(console.url)  # the admin tries the link on their own machine first
    shared.sign_in("ada@acme.test")
    path = link.removeprefix(rt.settings.public_url)
    assert shared.get(path).status_code == 200
    done = shared.post(path, {"password": "amy's own password", "confirm": "amy's own password"})
    assert done.status_code == 303 and done.headers["location"] == "/login?done=password"
