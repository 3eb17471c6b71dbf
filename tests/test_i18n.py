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


def extracted(folder: Path, method_map: list[tuple[str, str]]) -> set[str]:
    keywords = {"_": None, "gettext": None, "N_": None}
    return {msg for _, _, msg, *_ in extract_from_dir(str(folder), method_map, keywords=keywords) if isinstance(msg, str)}


def test_the_template_has_every_message_the_code_uses():
    method_map = [("console/**", "ignore"), ("**/templates/**.html", "jinja2"), ("**/templates/**.txt", "jinja2"),
                  ("**.py", "python")]
    assert extracted(WORKER, method_map) == template_ids(), "run the pybabel extract command in worker/babel.cfg"


def test_the_console_catalog_template_has_every_message_the_console_uses():
    """The console's own domain (English shipped; a language is added by translating this template)."""
    with open(WORKER / "console" / "locale" / "console.pot", "rb") as f:
        ids = {m.id for m in read_po(f) if m.id}
    found = extracted(WORKER / "console", [("templates/**.html", "jinja2"), ("**.py", "python")])
    assert found == ids, "run the pybabel extract command in worker/console/babel.cfg"


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
        subject = message["Subject"].replace("\u2068", "").replace("\u2069", "")  # isolates in RTL
        assert "#42" in subject and "Acme" in (text if scale is CES7 else "Acme")
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


def _mail(lang: str, ticket: str = "42", **kw) -> SurveyMail:
    values = dict(to_email="c@example.com", to_name="Kim", ticket_id=ticket, subject_line=None, token="t" * 43,
                  scale=CES7, locale=lang, company="Acme", public_url="https://s.example",
                  expires_at=datetime(2026, 12, 21, tzinfo=timezone.utc))
    return SurveyMail(**(values | kw))


def test_the_subject_arrives_as_written_in_every_language(sink):
    """Korean "얼마나 쉽게" arrived as "얼마나쉽게" for some ticket numbers: the space fell between two
    encoded words of the folded header, where readers drop it (RFC 2047)."""
    from ces.config.models import SmtpSettings
    from ces.worker.mail import send_mail

    smtp = SmtpSettings(host=sink.host, port=sink.port)
    sent = []
    for lang in LANGUAGES:
        for ticket in ("7", "1234", "48213", "9876543"):
            mail = _mail(lang, ticket)
            sent.append(mail.subject())
            send_mail(smtp, mail.message(sender="Acme <s@acme.test>", reply_to=None))
    received = [str(m["Subject"]) for m in sink.wait_for(len(sent))]
    assert received == sent
    assert "얼마나 쉽게" in received[LANGUAGES.index("ko") * 4 + 1]


def test_embedded_text_keeps_its_own_direction():
    """An English ticket title inside Arabic text stays whole (its parentheses too): isolated with
    dir="auto" in HTML and with Unicode isolates in the plain text and the subject."""
    title = "Refund for order (#48213) failed"
    mail = _mail("ar", "48213", subject_line=title, to_name="Omar <b>")
    message = mail.message(sender="Acme <s@acme.test>", reply_to=None)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert f'(<span dir="auto">{title}</span>)' in html
    assert '<span dir="auto">Omar &lt;b&gt;</span>' in html  # still escaped
    assert f"(\u2068{title}\u2069)" in text and "\u2068Omar <b>\u2069" in text
    assert "\u2068Acme\u2069" in text  # the company inside the Arabic question
    assert "#\u206848213\u2069" in message["Subject"]

    english = _mail("en", "48213", subject_line=title).message(sender="a@acme.test", reply_to=None)
    assert "\u2068" not in english.get_body(("plain",)).get_content() + english["Subject"]  # nothing to isolate
    hebrew_name = _mail("en", to_name="נועה לוי").message(sender="a@acme.test", reply_to=None)
    assert "Hello \u2068נועה לוי\u2069," in hebrew_name.get_body(("plain",)).get_content()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_thank_you_page_names_the_company(lang):
    page = render("thanks.html", lang, company="Acme", score=6, label="x", prompt="?", comment="", saved=False,
                  error=None, max_comment=5000, action="/s/t", change_url="/s/t", confirm=False,
                  unsubscribe_url="/u/t")
    [line] = [line for line in page.splitlines() if '<span dir="auto">Acme</span>' in line]
    assert ("Your answer helps" in line) == (lang == "en")
    assert 'name="comment" dir="auto"' in page  # a comment in another script keeps its direction
