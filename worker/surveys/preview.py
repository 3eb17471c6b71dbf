"""`ces surveys preview` and `ces surveys test-send`: see and try the survey before rollout."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ces.config import Settings
from ces.worker.db.models import Survey, SurveyState
from ces.worker.db.types import utcnow
from ces.worker.i18n import negotiate
from ces.worker.mail import send_mail
from ces.worker.runtime import Runtime
from ces.worker.surveys.create import new_token
from ces.worker.surveys.render import SurveyMail, colours, labels, question, render, wording_for
from ces.worker.surveys.scales import scale_of


def _mail(settings: Settings, policy, *, locale: str, scale: str, token: str, email: str, name: str | None) -> SurveyMail:
    locale = negotiate(locale, policy.default_locale, also=tuple(policy.wording))
    return SurveyMail(to_email=email, to_name=name, ticket_id="12345", subject_line="Charged twice for my subscription",
                      token=token, scale=scale_of(scale), locale=locale, company=policy.company,
                      public_url=settings.public_url, expires_at=utcnow() + timedelta(days=policy.response_days),
                      wording=wording_for(policy.wording, locale))


def preview(settings: Settings, *, locale: str, scale: str | None, connector_id: str | None, folder: Path) -> dict:
    policy = settings.survey_for(connector_id)
    mail = _mail(settings, policy, locale=locale, scale=scale or policy.scale, token="preview-token",
                 email="customer@example.com", name="Maria Garcia")
    message = mail.message(sender=settings.smtp.sender, reply_to=settings.smtp.reply_to)
    ctx = mail.context()
    sc = mail.scale
    options = [dict(score=s, label=lab, colour=c) for s, lab, c in
               zip(sc.scores, labels(sc, mail.locale, mail.wording), colours(sc))]
    pages = {
        "mail (HTML)": ("mail.html", message.get_body(("html",)).get_content()),
        "survey page": ("survey.html", render("survey.html", mail.locale, company=policy.company,
                                              question=question(sc, policy.company, mail.locale, mail.wording),
                                              options=options, current=None, chosen=None, action="#",
                                              until=ctx["until"], unsubscribe_url="#")),
        "thank-you page": ("thanks.html", render("thanks.html", mail.locale, company=policy.company, score=2,
                                                 label=options[1]["label"], prompt="", comment="", saved=False,
                                                 error=None, max_comment=5000, action="#", change_url="#",
                                                 confirm=False, unsubscribe_url="#")),
    }
    files = {}
    for title, (name, html) in pages.items():
        path = folder / name
        path.write_text(html, encoding="utf-8")
        files[title] = str(path)
    return {"subject": message["Subject"], "text": message.get_body(("plain",)).get_content(), "files": files}


def test_send(rt: Runtime, address: str, *, locale: str, scale: str | None) -> str:
    policy = rt.settings.survey
    now = rt.now()
    scale = scale or policy.scale
    survey = Survey(solve_id=None, connector_id="(test)", ticket_external_id="12345", token=new_token(),
                    state=SurveyState.TEST, reason="ces surveys test-send", scale=scale, delivery="email",
                    locale=locale, email=address, send_after=now, created_at=now, sent_at=now, attempts=1,
                    expires_at=now + timedelta(days=policy.response_days))
    mail = _mail(rt.settings, policy, locale=locale, scale=scale, token=survey.token, email=address, name=None)
    survey.locale = mail.locale
    message = mail.message(sender=rt.settings.smtp.sender, reply_to=rt.settings.smtp.reply_to)
    survey.message_id = message["Message-ID"]
    with rt.transaction() as s:
        s.add(survey)
    send_mail(rt.settings.smtp, message)
    return (f"test survey sent to {address} ({mail.locale}, {scale}); its links work until "
            f"{survey.expires_at:%Y-%m-%d} and its answers are never reported")
