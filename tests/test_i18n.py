"""Languages: every catalog complete and compiled, the customer's language chosen, right-to-left."""

from __future__ import annotations

import gettext
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ces.worker.i18n import LOCALE_DIR, available_locales, direction, negotiate
from ces.worker.surveys.render import SurveyMail, render
from ces.worker.surveys.scales import CES7, EFFORT5

LANGUAGES = ["en", "es", "fr", "de", "it", "pt-BR", "nl", "ro", "ru", "pl", "tr", "zh-CN", "ja", "ko", "ar", "he"]
TRANSLATED = LANGUAGES[1:]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
WORKER = Path(__file__).parent.parent / "worker"


def template_ids() -> set[str]:
    with open(LOCALE_DIR / "ces.pot", "rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_every_language_promised_has_a_catalog():
    assert set(LANGUAGES) <= set(available_locales())


def test_the_template_has_every_message_the_code_uses():
    method_map = [("**/templates/**.html", "jinja2"), ("**/templates/**.txt", "jinja2"), ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "N_": None}
    found = {msg for _, _, msg, *_ in extract_from_dir(str(WORKER), method_map, keywords=keywords)
             if isinstance(msg, str)}
    assert found == template_ids(), "run the pybabel extract command in worker/babel.cfg"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_catalog_translates_every_message_keeping_placeholders(lang):
    po_path = LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES" / "ces.po"
    with open(po_path, "rb") as f:
        catalog = {m.id: m for m in read_po(f) if m.id}
    for msgid in template_ids():
        message = catalog.get(msgid)
        assert message is not None and message.string, f"{lang}: no translation of {msgid!r}"
        assert not message.fuzzy, f"{lang}: fuzzy translation of {msgid!r}"
        assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(msgid)), (lang, msgid)
        if PLACEHOLDER.sub("", msgid).strip(" .,:?!#()") and lang not in ("nl",):
            assert message.string != msgid, f"{lang}: {msgid!r} left in English"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_compiled_catalog_matches_its_source(lang):
    folder = LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES"
    with open(folder / "ces.po", "rb") as f:
        source = {m.id: m.string for m in read_po(f) if m.id}
    with open(folder / "ces.mo", "rb") as f:
        compiled = gettext.GNUTranslations(f)
    assert all(compiled.gettext(msgid) == text for msgid, text in source.items()), \
        "run: pybabel compile -d worker/locale -D ces"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_mail_and_page_in_each_language(lang):
    for scale in (CES7, EFFORT5):
        mail = SurveyMail(to_email="c@example.com", to_name="Kim", ticket_id="42", subject_line=None, token="t" * 43,
                          scale=scale, locale=lang, company="Acme", public_url="https://s.example",
                          expires_at=datetime(2026, 12, 21, tzinfo=timezone.utc))
        message = mail.message(sender="Acme <s@acme.test>", reply_to=None)
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        assert f'lang="{lang}" dir="{direction(lang)}"' in html
        assert "#42" in message["Subject"] and "Acme" in (text if scale is CES7 else "Acme")
        english = {"Strongly disagree", "Very low effort", "One click tells us how it went:"}
        assert any(word in text for word in english) == (lang == "en"), lang
        page = render("thanks.html", lang, company="Acme", score=2, label="x", prompt="?", comment="",
                      saved=True, error=None, max_comment=5000, action="/s/t", change_url="/s/t", confirm=False,
                      unsubscribe_url="/u/t")
        assert (lang == "en") == ("Thank you!" in page)


def test_right_to_left_languages():
    assert [lang for lang in LANGUAGES if direction(lang) == "rtl"] == ["ar", "he"]


@pytest.mark.parametrize("asked,expected", [
    ("es-MX", "es"), ("pt", "pt-BR"), ("pt_BR", "pt-BR"), ("zh", "zh-CN"), ("ZH-cn", "zh-CN"), ("fr-CA", "fr"),
    ("xx-YY", "en"), ("", "en"), (None, "en"), ("en-US", "en"),
])
def test_the_requesters_language_or_a_fallback(asked, expected):
    assert negotiate(asked) == expected


def test_unknown_language_falls_back_to_the_connectors_default():
    assert negotiate("kl", "de") == "de"
