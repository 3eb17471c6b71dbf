"""Accessibility scans (axe-core, in a real headless Chromium) of the pages a customer sees: no serious
or critical violation. axe-core comes from tests/node (installed on first use, see tests/node_tools.py)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests import test_browser
from tests.node_tools import axe_scan
from tests.support import POSTGRESQL_ONLY

pytestmark = pytest.mark.browser

# The survey pages as the browser tests set them up: PostgreSQL, a survey sent by mail, the app served.
app, sent = test_browser.app, test_browser.sent


@POSTGRESQL_ONLY
def test_the_survey_page_has_no_serious_accessibility_violation(app, sent, browser):
    survey, _ = sent()
    browser.get(f"{app.url}/s/{survey.token}")
    assert len(browser.find_elements(By.CSS_SELECTOR, 'button[name="score"]')) == 7
    assert axe_scan(browser) == []


@POSTGRESQL_ONLY
def test_the_thank_you_page_has_no_serious_accessibility_violation(app, sent, browser):
    survey, mail = sent()
    browser.get(test_browser.link(mail, 2))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Thank you!"
    assert axe_scan(browser) == []


def test_the_scan_names_each_violation_it_finds(browser):
    browser.get("data:text/html,<!doctype html><title>Broken</title><img src='chart.png'><button></button>")
    found = axe_scan(browser)
    assert [line.split(":")[0] for line in found] == ["button-name (critical)", "html-has-lang (serious)",
                                                      "image-alt (critical)"]
    assert found[2].endswith("— img")
