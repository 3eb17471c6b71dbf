"""Accessibility scans (axe-core in a real Chromium) of every console page: no
serious or critical violation. Each page also leaves its screenshots (desktop and 375 px) for review."""

from __future__ import annotations

import pyotp
import pytest
from selenium.webdriver.common.by import By

from ces.worker.web.app import create_app
from tests.console import add_user, screenshot, sign_in, submit
from tests.followup_data import seed
from tests.node_tools import axe_scan
from tests.support import ServedApp

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def console(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def scanned(browser, name: str) -> list[str]:
    screenshot(browser, name)
    return axe_scan(browser)


def test_the_signed_out_pages_have_no_serious_accessibility_violation(rt, console, browser):
    link = add_user(rt, "amy@acme.test", "agent", password=None)
    found = {}
    sign_in(browser, console.url, "amy@acme.test", "wrong password here")
    found["login with an error"] = scanned(browser, "console-login-error")
    browser.get(link)
    found["link"] = axe_scan(browser)
    browser.find_element(By.ID, "password").send_keys("short")
    browser.find_element(By.ID, "confirm").send_keys("short")
    browser.execute_script("document.querySelectorAll('[minlength]').forEach(e => e.removeAttribute('minlength'))")
    submit(browser)
    found["link with an error"] = scanned(browser, "console-link-error")
    browser.get(f"{console.url}/login/link/used-or-made-up")
    found["a problem page"] = scanned(browser, "console-problem")
    browser.get(f"{console.url}/login?done=out")
    found["login"] = axe_scan(browser)
    assert found == {page: [] for page in found}


def test_the_signed_in_pages_have_no_serious_accessibility_violation(rt, console, browser):
    add_user(rt, "lee@acme.test", "lead", teams=("Billing",), name="Lee Lead")
    found = {}
    sign_in(browser, console.url, "lee@acme.test")
    found["home"] = axe_scan(browser)
    browser.get(f"{console.url}/account")
    found["account"] = axe_scan(browser)
    browser.get(f"{console.url}/answers?q=nothing+matches")
    found["answers, none found"] = axe_scan(browser)
    browser.get(f"{console.url}/account/totp")
    found["second factor enrolment"] = axe_scan(browser)
    secret = browser.find_element(By.CSS_SELECTOR, "code.secret").text
    browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).now())
    submit(browser)
    found["account with a notice"] = scanned(browser, "console-account-totp-on")
    submit(browser, "form[action='/logout'] button")
    sign_in(browser, console.url, "lee@acme.test")
    found["second step"] = axe_scan(browser)
    browser.find_element(By.ID, "code").send_keys("000000")
    submit(browser)
    found["second step with an error"] = scanned(browser, "console-totp-step-error")
    assert found == {page: [] for page in found}


def test_the_follow_up_queue_and_the_ticket_page_have_no_serious_accessibility_violation(rt, console, browser):
    data = seed(rt)
    add_user(rt, "ada@acme.test", "admin", name="Ada Admin")
    found = {}
    sign_in(browser, console.url, "ada@acme.test", next_path="/follow-ups")
    found["follow-ups"] = scanned(browser, "console-follow-ups-admin")
    browser.find_element(By.CSS_SELECTOR, f"#case-{data['1001']['case']} details summary").click()
    found["follow-ups, a note being written"] = axe_scan(browser)
    browser.get(f"{console.url}/tickets/{data['1001']['ticket']}")
    found["ticket"] = scanned(browser, "console-ticket-admin")
    browser.get(f"{console.url}/tickets/{data['3003']['ticket']}")
    found["signal-only ticket"] = scanned(browser, "console-ticket-signals")
    browser.get(f"{console.url}/tickets?id=424242")
    found["ticket search"] = scanned(browser, "console-tickets-none")
    assert found == {page: [] for page in found}


def test_the_report_pages_have_no_serious_accessibility_violation(rt, console, browser):
    from tests.report_data import seed

    seed(rt)
    add_user(rt, "lee@acme.test", "lead", name="Lee Lead")
    add_user(rt, "amy@acme.test", "agent", name="Amy Agent")
    found = {}
    sign_in(browser, console.url, "lee@acme.test")
    for name, path in (("overview", "/?from=2026-11-02&to=2026-11-29"), ("overview, empty", "/?from=2020-01-01"),
                       ("teams", "/teams?from=2026-11-02&to=2026-11-29"),
                       ("drivers", "/drivers?from=2026-11-02&to=2026-11-29")):
        browser.get(console.url + path)
        found[name] = axe_scan(browser)
    submit(browser, "form[action='/logout'] button")
    sign_in(browser, console.url, "amy@acme.test", next_path="/teams?from=2026-11-02%26to=2026-11-29")
    found["teams, an agent"] = scanned(browser, "console-teams-agent")
    assert found == {page: [] for page in found}


def test_the_admin_pages_have_no_serious_accessibility_violation(rt, console, browser):
    from tests.admin_data import failed_survey, parked_event

    for n, state in enumerate(("failed", "uncertain", "failed")):
        failed_survey(rt, f"500{n}", state)
    parked_event(rt, 1)
    add_user(rt, "ada@acme.test", "admin", name="Ada Admin")
    add_user(rt, "lee@acme.test", "lead", teams=("Billing", "Returns"), name="Lee Lead")
    found = {}
    sign_in(browser, console.url, "ada@acme.test", next_path="/admin/queues")
    browser.find_element(By.CSS_SELECTOR, "input[name=id]").click()
    submit(browser, "form[method=post] button.primary")
    found["queues, after a resend"] = scanned(browser, "console-admin-queues")
    browser.get(f"{console.url}/admin/queues?kind=events")
    found["parked events"] = axe_scan(browser)
    browser.get(f"{console.url}/admin/people")
    browser.find_element(By.ID, "i-email").send_keys("eve@acme.test")
    submit(browser, "form[action='/admin/people/invite'] button")
    browser.find_element(By.CSS_SELECTOR, "details.person summary").click()
    found["people, a link shown"] = scanned(browser, "console-admin-people")
    browser.get(f"{console.url}/admin/tokens")
    browser.find_element(By.CSS_SELECTOR, "input[name=scope]").click()
    submit(browser, "form[action='/admin/tokens/create'] button")
    found["tokens, a secret shown"] = scanned(browser, "console-admin-tokens")
    browser.get(f"{console.url}/admin/audit")
    found["audit log"] = scanned(browser, "console-admin-audit")
    assert found == {page: [] for page in found}
