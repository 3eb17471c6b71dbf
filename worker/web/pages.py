"""The customer's pages: one-click answer, survey page, thank-you page with a comment box,
unsubscribe. Small, accessible, no external assets; an inline script only confirms an answer
when a person interacts with the page (see surveys/answers.py on link scanners)."""

from __future__ import annotations

import re

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ces.connectors.timeparse import is_digits
from ces.worker.db.models import Answer
from ces.worker.i18n import N_, negotiate
from ces.worker.surveys.answers import (
    MAX_COMMENT,
    Answered,
    AnswerError,
    BadScore,
    CommentTooLong,
    find_survey,
    open_survey,
    record_answer,
    unsubscribe,
)
from ces.worker.surveys.render import colours, gettext_for, labels, question, render, wording_for
from ces.worker.surveys.scales import scale_of
from ces.worker.web.bodies import NotAForm, TooLarge, read_form
from ces.worker.web.security import PAGE_HEADERS as _HEADERS

router = APIRouter()

# Security gateways, link checkers and preview fetchers: they may open every link of a mail.
_SCANNER_UA = re.compile(
    r"bot\b|crawler|spider|preview|scanner|safelinks|proofpoint|mimecast|barracuda|urldefense|"
    r"headlesschrome|phantomjs|slurp|facebookexternalhit|whatsapp|skypeuripreview|curl/|wget/|"
    r"python-requests|python-urllib|go-http-client|java/|okhttp|libwww", re.I)
_PREFETCH = (("purpose", "prefetch"), ("sec-purpose", "prefetch"), ("x-purpose", "preview"), ("x-moz", "prefetch"))


def looks_automated(request: Request) -> str | None:
    """Why this request is probably not a person's click (HEAD, prefetch, a scanner's agent)."""
    if request.method == "HEAD":
        return "HEAD request"
    for header, value in _PREFETCH:
        if value in request.headers.get(header, "").lower():
            return f"{header} header"
    agent = request.headers.get("user-agent", "")
    if not agent or _SCANNER_UA.search(agent):
        return "user agent of a link scanner"
    return None


def _rt(request: Request):
    return request.app.state.rt


def _locale(request: Request, survey=None) -> str:
    if survey is not None and survey.locale:
        return survey.locale
    accept = request.headers.get("accept-language", "")
    tags = [part.split(";")[0].strip() for part in accept.split(",") if part.strip()]
    return negotiate(*tags, _rt(request).settings.survey.default_locale)


def _page(request: Request, template: str, status: int, survey=None, **ctx) -> HTMLResponse:
    locale = _locale(request, survey)
    policy = _rt(request).settings.survey_for(survey.connector_id if survey else None)
    html = render(template, locale, company=policy.company, **ctx)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def error_page(request: Request, exc: AnswerError) -> HTMLResponse:
    _ = gettext_for(_locale(request, exc.survey))
    titles = {
        404: (_("This link is not valid"), _("Please use the link from your e-mail as it is.")),
        410: (_("This survey is closed"), _("Thank you anyway: answers are no longer collected for this request.")),
        400: (_("Please choose a score"), _("Please choose one of the answers shown.")),
    }
    title, message = titles.get(exc.status, titles[400])
    return _page(request, "error.html", exc.status, exc.survey, title=title, message=message)


async def form_of(request: Request) -> dict[str, str]:
    """The posted form, read within `server.max_form_bytes` before the token is looked at."""
    return await read_form(request, _rt(request).settings.server.max_form_bytes)


def form_refused(request: Request, exc: TooLarge | NotAForm, too_large: str) -> HTMLResponse:
    """413 for a form over the limit (`too_large` says what to do), 415 for one we do not read."""
    if isinstance(exc, TooLarge):
        return _page(request, "error.html", 413, title=too_large, message="")
    return _page(request, "error.html", 415, title="This form cannot be read",
                 message="Please send it from the page it came from.")


def _words(request: Request, survey):
    locale = _locale(request, survey)
    policy = _rt(request).settings.survey_for(survey.connector_id)
    scale = scale_of(survey.scale)
    wording = wording_for(policy.wording, locale)
    return locale, policy, scale, wording


def _survey_page(request: Request, found: Answered, *, chosen: int | None = None, status: int = 200):
    survey = found.survey
    locale, policy, scale, wording = _words(request, survey)
    options = [dict(score=s, label=lab, colour=c) for s, lab, c in
               zip(scale.scores, labels(scale, locale, wording), colours(scale))]
    until = format_date(survey.expires_at.date(), format="long", locale=locale.replace("-", "_")) \
        if survey.expires_at else None
    current = chosen or (found.answer.score if found.answer else None)
    return _page(request, "survey.html", status, survey, question=question(scale, policy.company, locale, wording),
                 options=options, current=current, chosen=chosen, action=f"/s/{survey.token}", until=until,
                 unsubscribe_url=f"/u/{survey.token}")


def _thanks(request: Request, done: Answered, *, saved=False, error=None, comment=None, status=200,
            confirm=False) -> HTMLResponse:
    survey, answer = done.survey, done.answer
    locale, policy, scale, wording = _words(request, survey)
    _ = gettext_for(locale)
    prompt = _("What made it hard?") if scale.is_low(answer.score) else _("Anything you would like to add?")
    return _page(request, "thanks.html", status, survey, score=answer.score,
                 label=labels(scale, locale, wording)[answer.score - 1], prompt=prompt,
                 comment=comment if comment is not None else answer.comment, saved=saved, error=error,
                 max_comment=MAX_COMMENT, action=f"/s/{survey.token}", change_url=f"/s/{survey.token}",
                 confirm=confirm, unsubscribe_url=f"/u/{survey.token}")


def _parse_score(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not is_digits(raw) or len(raw) > 3:
        raise BadScore("the score must be a whole number")
    return int(raw)


@router.get("/s/{token}", response_class=HTMLResponse)
async def survey_page(request: Request, token: str):
    try:
        found = await run_in_threadpool(open_survey, _rt(request), token)
    except AnswerError as exc:
        return error_page(request, exc)
    return _survey_page(request, found)


@router.get("/s/{token}/{score}", response_class=HTMLResponse, operation_id="one_click_answer")
@router.head("/s/{token}/{score}", response_class=HTMLResponse, operation_id="one_click_link_check")
async def one_click(request: Request, token: str, score: str):
    rt = _rt(request)
    try:
        found = await run_in_threadpool(open_survey, rt, token)
        value = _parse_score(score)
        if value is None or not scale_of(found.survey.scale).valid(value):
            raise BadScore("the score is outside the scale", found.survey)
        if looks_automated(request):
            # Never an answer; a person misjudged as a scanner confirms with one more click.
            return _survey_page(request, found, chosen=value)
        done = await run_in_threadpool(record_answer, rt, token, value, how="click")
    except AnswerError as exc:
        return error_page(request, exc)
    return _thanks(request, done, confirm=True)


_FORM = {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "properties": {"score": {"type": "string"}, "comment": {"type": "string"},
                                     "confirm": {"type": "string"}}}}}}}


@router.post("/s/{token}", response_class=HTMLResponse, openapi_extra=_FORM)
async def submit(request: Request, token: str):
    rt = _rt(request)
    try:
        form = await form_of(request)
    except (TooLarge, NotAForm) as exc:
        # Only the comment can be long: tell the customer what to do about it.
        _ = gettext_for(_locale(request))
        return form_refused(request, exc, _("Your comment is longer than %(n)s characters. Please shorten it.")
                            % {"n": MAX_COMMENT})
    comment = form.get("comment")
    how = "script" if form.get("confirm") else "form"
    try:
        value = _parse_score(form.get("score"))
        done = await run_in_threadpool(record_answer, rt, token, value, comment, how=how)
    except CommentTooLong:
        found = await run_in_threadpool(open_survey, rt, token)
        if found.answer is None:  # nothing stored yet: show the score they picked, unsaved
            found.answer = Answer(score=value, scale=found.survey.scale)
        _ = gettext_for(_locale(request, found.survey))
        error = _("Your comment is longer than %(n)s characters. Please shorten it.") % {"n": MAX_COMMENT}
        return _thanks(request, found, error=error, comment=comment, status=422)
    except AnswerError as exc:
        return error_page(request, exc)
    return _thanks(request, done, saved=comment is not None and bool(comment.strip()))


@router.get("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str):
    return await _unsubscribe(request, token, find_survey, N_("Stop receiving these surveys?"), done=False)


@router.post("/u/{token}", response_class=HTMLResponse)
async def unsubscribe_now(request: Request, token: str):
    """The page's button, or a mail client's RFC 8058 one-click POST (List-Unsubscribe=One-Click)."""
    return await _unsubscribe(request, token, unsubscribe, N_("You are unsubscribed"), done=True)


async def _unsubscribe(request: Request, token: str, step, title: str, *, done: bool):
    """The unsubscribe page: before (the token looked up) or after (the survey unsubscribed)."""
    try:
        survey = await run_in_threadpool(step, _rt(request), token)
    except AnswerError as exc:
        return error_page(request, exc)
    _ = gettext_for(_locale(request, survey))
    return _page(request, "unsubscribe.html", 200, survey, title=_(title), action=None if done else f"/u/{token}",
                 done=done)
