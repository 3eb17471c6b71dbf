"""The survey pages in a real headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium). This test fails, never skips, when the browser is missing: .ci/run installs it."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from ces.worker.web.app import create_app
from tests.browser import chromium
from tests.pipeline import answers, mock_ticket, receive, surveys
from tests.support import BROWSER, POSTGRESQL_ONLY, ServedApp, wait_until

pytestmark = [pytest.mark.browser, POSTGRESQL_ONLY]


@pytest.fixture
def sent(rt, queue, sink, zendesk_api):
    def send(locale="en-US"):
        mock_ticket(zendesk_api, locale=locale)
        receive(rt, "status_changed_solved.json", "inv-1")
        queue.drain(rt)
        return surveys(rt)[0], sink.messages[0]
    return send


@pytest.fixture
def app(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def link(mail, score: int) -> str:
    return re.search(rf"(http://\S+/s/[\w-]+/{score})\b", mail.get_body(("plain",)).get_content()).group(1)


def test_open_the_mail_link_pick_a_score_write_a_comment(app, rt, sent):
    survey, mail = sent()
    driver = chromium()  # headless Chromium announces itself: treated like a link scanner
    try:
        driver.get(link(mail, 2))
        assert "Please confirm your answer" in driver.page_source and answers(rt) == []
        chosen = driver.find_element(By.CSS_SELECTOR, 'button[name="score"][value="2"]')
        assert driver.switch_to.active_element == chosen  # focused, so Enter confirms it
        chosen.send_keys(Keys.ENTER)
        WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.ID, "comment")))
        assert driver.find_element(By.TAG_NAME, "h1").text == "Thank you!"
        assert driver.find_element(By.CSS_SELECTOR, 'label[for="comment"]').text == "What made it hard?"
        driver.find_element(By.ID, "comment").send_keys("I was transferred twice & had to repeat <everything>.")
        driver.find_element(By.CSS_SELECTOR, "button.send").click()
        WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, '[role="status"]')))
        assert driver.find_element(By.ID, "comment").get_attribute("value") == \
            "I was transferred twice & had to repeat <everything>."
    finally:
        driver.quit()
    [answer] = answers(rt)
    assert (answer.score, answer.state, answer.comment) == (
        2, "confirmed", "I was transferred twice & had to repeat <everything>.")


def test_a_persons_click_is_confirmed_when_they_move_on_the_page(app, rt, sent):
    survey, mail = sent()
    driver = chromium(BROWSER["User-Agent"])
    try:
        driver.get(link(mail, 6))
        assert driver.find_element(By.TAG_NAME, "h1").text == "Thank you!"
        assert answers(rt)[0].state == "provisional"
        ActionChains(driver).move_by_offset(20, 20).perform()
        wait_until(lambda: answers(rt)[0].state == "confirmed", 10, message="the page's confirmation")
        assert answers(rt)[0].via == "script"
    finally:
        driver.quit()


def test_right_to_left_languages_render_right_to_left(app, rt, sent):
    survey, mail = sent(locale="he")
    driver = chromium(BROWSER["User-Agent"])
    try:
        driver.get(f"{app.url}/s/{survey.token}")
        html = driver.find_element(By.TAG_NAME, "html")
        assert html.get_attribute("lang") == "he" and html.get_attribute("dir") == "rtl"
        assert driver.execute_script("return getComputedStyle(document.body).direction") == "rtl"
        buttons = driver.find_elements(By.CSS_SELECTOR, 'button[name="score"]')
        assert len(buttons) == 7 and all(b.is_displayed() for b in buttons)
        # Keyboard: the first answer is reachable with Tab and shows a visible focus ring.
        ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = driver.switch_to.active_element
        assert focused.get_attribute("name") == "score"
        assert driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", focused) != "none"
    finally:
        driver.quit()
