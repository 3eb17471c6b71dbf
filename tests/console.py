"""Helpers for the console's tests, shared by every page's tests: accounts, signing in (a browser
or plain HTTP), and the screenshots every page leaves for review.

Screenshots go to $CES_SCREENSHOTS (default tests/.screenshots/, gitignored): `<name>-desktop.png`
(1280 wide) and `<name>-375.png` (a phone), each as tall as the page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from ces.worker.console import passwords, users
from tests.support import BROWSER

SCREENSHOTS = Path(os.environ.get("CES_SCREENSHOTS") or Path(__file__).parent / ".screenshots")
PASSWORD = "correct horse battery staple"
LOAD_SECONDS = 15
SIZES = {"desktop": (1280, 900), "375": (375, 812)}


def add_user(rt, email: str, role: str = "lead", *, teams: tuple[str, ...] = (), name: str | None = None,
             password: str | None = PASSWORD) -> str:
    """An account, its password set through its one-time link as a person would; returns the link
    (used up when a password was given)."""
    link = users.add(rt, email, role, list(teams), name)
    if password is not None:
        assert users.use_link(rt, link.rsplit("/", 1)[1], passwords.hash_password(password)) is not None
    return link


def submit(browser, button_css: str = "main form button[type=submit]") -> None:
    """Click a form's button and wait for the next page (a click does not wait for it)."""
    # A mark on the old document's window: gone once the next page has loaded. (staleness_of asks
    # about the old element, and Chromium sometimes answers that with an inspector error instead.)
    browser.execute_script("window.__cesOldPage = true")
    browser.find_element(By.CSS_SELECTOR, button_css).click()
    WebDriverWait(browser, LOAD_SECONDS).until(
        lambda b: b.execute_script("return document.readyState === 'complete' && !window.__cesOldPage"))


def sign_in(browser, base_url: str, email: str, password: str = PASSWORD, next_path: str = "") -> None:
    browser.get(f"{base_url}/login{next_path and '?next=' + next_path}")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    submit(browser, "form[action='/login'] button[type=submit]")


def sign_out(browser) -> None:
    submit(browser, "form[action='/logout'] button")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


class Client:
    """Plain HTTP as a browser would speak it: cookies kept, the CSRF token taken from each page."""

    def __init__(self, base_url: str, address: str | None = None):
        self.base = base_url
        self.http = requests.Session()
        self.http.headers.update(BROWSER)
        if address:
            self.http.headers["X-Forwarded-For"] = address
        self.csrf = ""

    def get(self, path: str, **kw) -> requests.Response:
        resp = self.http.get(self.base + path, allow_redirects=kw.pop("allow_redirects", False), timeout=10, **kw)
        if 'name="csrf"' in resp.text:
            self.csrf = csrf_of(resp.text)
        return resp

    def post(self, path: str, data: dict | None = None, *, csrf: str | None = None, **kw) -> requests.Response:
        fields = {"csrf": self.csrf if csrf is None else csrf, **(data or {})}
        if csrf == "":
            fields.pop("csrf")
        resp = self.http.post(self.base + path, data=fields, allow_redirects=False, timeout=10, **kw)
        if 'name="csrf"' in resp.text:
            self.csrf = csrf_of(resp.text)
        return resp

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})


def signed_in(console, email: str) -> Client:
    """A Client signed in as `email` to the served console (tests.support.ServedApp)."""
    client = Client(console.url)
    assert client.sign_in(email).status_code == 303
    client.get("/")  # the session's CSRF token, from a page
    return client


def new_signed_in(console, rt, email: str, role: str, teams=()) -> Client:
    """A new account of this role, signed in over HTTP (`console`: the served app)."""
    add_user(rt, email, role, teams=teams)
    return signed_in(console, email)


def routes_of(app) -> list:
    """Every route of an app, those of included routers too (FastAPI keeps an included router as
    one entry that holds the router's own routes)."""
    found = []
    for route in getattr(app, "routes", app):
        inner = getattr(route, "original_router", None)
        found += routes_of(inner.routes) if inner is not None else [route]
    return found


def screenshot(browser, name: str) -> list[Path]:
    """The current page, desktop (1280) and phone (375, as a phone lays it out) wide, each as tall
    as its content: the viewport is set through the DevTools protocol, not the window."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = []
    try:
        for label, (width, height) in SIZES.items():
            metrics = dict(width=width, height=height, deviceScaleFactor=1, mobile=label != "desktop")
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            full = browser.execute_script("return document.documentElement.scrollHeight")
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": max(height, full)})
            path = SCREENSHOTS / f"{name}-{label}.png"
            browser.save_screenshot(str(path))
            shots.append(path)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return shots
