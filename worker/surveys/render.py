"""Survey mail and pages, rendered in the requester's language."""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ces.config.models import Wording
from ces.worker.db.types import storable_text
from ces.worker.i18n import direction, translations
from ces.worker.mail import header_text, mailbox
from ces.worker.surveys.scales import Scale

TEMPLATE_DIRS = [Path(__file__).parent / "templates", Path(__file__).parent.parent / "web" / "templates"]

# Red to green for ces7 (higher is better); reversed for effort5. Colours pass WCAG AA with white text.
_COLOURS = ["#b3261e", "#c2410c", "#a16207", "#4b5563", "#3f6212", "#15803d", "#166534"]


# Letters of the right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko… and their forms).
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


def isolate(value: object, locale: str) -> str:
    """Text embedded in a sentence (a name, a ticket title, the company) kept whole when its
    direction may differ from the sentence's: Unicode isolates (FSI … PDI) for plain text and
    subjects. Only where directions can mix (an RTL language, or RTL letters in the value), so that
    mail in one direction carries no invisible characters."""
    text = "" if value is None else str(value)
    if text and (direction(locale) == "rtl" or _RTL.search(text)):
        return f"\u2068{text}\u2069"
    return text


def bidi(value: object) -> Markup:
    """The same for HTML: an element with dir="auto" is an isolate (as <bdi> is), and it survives
    mail clients' sanitizers that drop unknown tags."""
    return Markup('<span dir="auto">{}</span>').format("" if value is None else value)


@cache
def environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
                      autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)  # no stat() per render
    env.install_gettext_translations(translations(locale), newstyle=True)
    env.filters["isolate"] = lambda value: isolate(value, locale)
    env.filters["bidi"] = bidi
    return env


def gettext_for(locale: str):
    return translations(locale).gettext


def render(template: str, locale: str, **context) -> str:
    return environment(locale).get_template(template).render(lang=locale, dir=direction(locale), **context)


def colours(scale: Scale) -> list[str]:
    picked = [_COLOURS[round(i * (len(_COLOURS) - 1) / (scale.points - 1))] for i in range(scale.points)]
    return picked if scale.higher_is_better else picked[::-1]


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, **values: str) -> str:
    """An admin's wording with {company} / {ticket} filled in; unknown names are left empty."""
    return template.format_map(_Blank(values))


def question(scale: Scale, company: str, locale: str, wording: Wording | None = None) -> str:
    if wording and wording.question:
        return fill(wording.question, company=isolate(company, locale))
    _ = gettext_for(locale)
    if scale.key == "ces7":
        return _("%(company)s made it easy for me to handle my issue.") % {"company": isolate(company, locale)}
    return _("How much effort did you personally have to put forth to handle your request?")


def labels(scale: Scale, locale: str, wording: Wording | None = None) -> list[str]:
    if wording and wording.labels:
        return list(wording.labels)
    _ = gettext_for(locale)
    return [_(label) for label in scale.labels]


def wording_for(words: dict[str, Wording], locale: str) -> Wording | None:
    """The admin's wording for this language: exact (pt-BR), then the language (pt)."""
    lowered = {k.lower().replace("_", "-"): v for k, v in words.items()}
    return lowered.get(locale.lower()) or lowered.get(locale.split("-")[0].lower())


@cache
def _fixed_headers(sender: str, reply_to: str | None, public_url: str) -> dict[str, object]:
    """The headers every survey mail shares, parsed once: the email package parses each header it is
    given (an address header costs a parse every time), and takes an already parsed one as it is."""
    values = {"From": sender, "Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All",
              "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    if reply_to:
        values["Reply-To"] = reply_to
    fixed: dict[str, object] = {name: email.policy.default.header_factory(name, value) for name, value in values.items()}
    fixed["domain"] = parseaddr(sender)[1].rpartition("@")[2] or urlsplit(public_url).hostname or "localhost"
    return fixed


@dataclass
class SurveyMail:
    to_email: str
    to_name: str | None
    ticket_id: str
    subject_line: str | None  # the ticket's subject, shown for context
    token: str
    scale: Scale
    locale: str
    company: str
    public_url: str
    expires_at: datetime
    wording: Wording | None = None
    reminder: bool = False

    def __post_init__(self):
        # The helpdesk's words, cleaned once for every place they land: headers (one line; the
        # address checked in message()) and the UTF-8 bodies (no lone surrogates).
        self.to_name = header_text(self.to_name) or None
        self.ticket_id = header_text(self.ticket_id)
        self.subject_line = storable_text(self.subject_line)

    def link(self, score: int | None = None) -> str:
        base = f"{self.public_url}/s/{self.token}"
        return base if score is None else f"{base}/{score}"

    @property
    def unsubscribe_url(self) -> str:
        return f"{self.public_url}/u/{self.token}"

    def context(self) -> dict:
        names = labels(self.scale, self.locale, self.wording)
        return dict(
            name=self.to_name, ticket_id=self.ticket_id, ticket_subject=self.subject_line,
            question=question(self.scale, self.company, self.locale, self.wording), company=self.company,
            options=[dict(score=s, label=lab, colour=c, url=self.link(s))
                     for s, lab, c in zip(self.scale.scores, names, colours(self.scale))],
            survey_url=self.link(), unsubscribe_url=self.unsubscribe_url, reminder=self.reminder,
            until=format_date(self.expires_at.date(), format="long", locale=self.locale.replace("-", "_")),
            scale=self.scale,
        )

    def subject(self) -> str:
        ticket, company = isolate(self.ticket_id, self.locale), isolate(self.company, self.locale)
        if self.wording and self.wording.subject:
            subject = fill(self.wording.subject, ticket=ticket, company=company)
        else:
            _ = gettext_for(self.locale)
            subject = _("How easy was it to get help with request #%(ticket)s?") % {"ticket": ticket}
        if self.reminder:
            _ = gettext_for(self.locale)
            subject = _("Reminder: %(subject)s") % {"subject": subject}
        return subject

    def helpdesk_text(self) -> str:
        """The survey as a public reply in the helpdesk (chat and messaging tickets)."""
        return render("helpdesk.txt", self.locale, **self.context())

    def message(self, *, sender: str, reply_to: str | None) -> EmailMessage:
        ctx = self.context()
        msg = EmailMessage()
        fixed = _fixed_headers(sender, reply_to, self.public_url)
        msg["Subject"] = header_text(self.subject())
        msg["From"] = fixed["From"]
        msg["To"] = mailbox(self.to_name, self.to_email)
        if reply_to:
            msg["Reply-To"] = fixed["Reply-To"]
        msg["Message-ID"] = make_msgid("ces", domain=fixed["domain"])
        msg["Auto-Submitted"] = fixed["Auto-Submitted"]
        msg["X-Auto-Response-Suppress"] = fixed["X-Auto-Response-Suppress"]
        msg["Content-Language"] = self.locale
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" to it.
        msg["List-Unsubscribe"] = f"<{self.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = fixed["List-Unsubscribe-Post"]
        msg.set_content(render("email.txt", self.locale, **ctx))
        msg.add_alternative(render("email.html", self.locale, **ctx), subtype="html")
        return msg
