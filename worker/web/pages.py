"""The customer's pages: one-click answer, survey page, thank-you page with a comment box."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ces.worker.db.models import Answer
from ces.worker.i18n import negotiate
from ces.worker.surveys.answers import (
    MAX_COMMENT,
    Answered,
    AnswerError,
    BadScore,
    CommentTooLong,
    open_survey,
    record_answer,
)
from ces.worker.surveys.render import colours, gettext_for, labels, question, render
from ces.worker.surveys.scales import scale_of

router = APIRouter()


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
    html = render(template, locale, company=_rt(request).settings.survey.company, **ctx)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store",
                                                           "X-Robots-Tag": "noindex"})


def error_page(request: Request, exc: AnswerError) -> HTMLResponse:
    _ = gettext_for(_locale(request, exc.survey))
    titles = {
        404: (_("This link is not valid"), _("Please use the link from your e-mail as it is.")),
        410: (_("This survey is closed"), _("Thank you anyway: answers are no longer collected for this request.")),
        400: (_("Please choose a score"), _("Please choose one of the answers shown.")),
    }
    title, message = titles.get(exc.status, titles[400])
    return _page(request, "error.html", exc.status, exc.survey, title=title, message=message)


def _thanks(request: Request, done: Answered, *, saved=False, error=None, comment=None, status=200) -> HTMLResponse:
    survey, answer = done.survey, done.answer
    scale = scale_of(survey.scale)
    locale = _locale(request, survey)
    _ = gettext_for(locale)
    prompt = _("What made it hard?") if scale.is_low(answer.score) else _("Anything you would like to add?")
    return _page(request, "thanks.html", status, survey, score=answer.score,
                 label=labels(scale, locale)[answer.score - 1], prompt=prompt,
                 comment=comment if comment is not None else answer.comment, saved=saved, error=error,
                 max_comment=MAX_COMMENT, action=f"/s/{survey.token}", change_url=f"/s/{survey.token}")


def _parse_score(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadScore("the score must be a whole number") from None


@router.get("/s/{token}", response_class=HTMLResponse)
async def survey_page(request: Request, token: str):
    rt = _rt(request)
    try:
        found = await run_in_threadpool(open_survey, rt, token)
    except AnswerError as exc:
        return error_page(request, exc)
    survey = found.survey
    scale = scale_of(survey.scale)
    locale = _locale(request, survey)
    from babel.dates import format_date

    options = [dict(score=s, label=lab, colour=c) for s, lab, c in
               zip(scale.scores, labels(scale, locale), colours(scale))]
    until = format_date(survey.expires_at.date(), format="long", locale=locale.replace("-", "_"))
    return _page(request, "survey.html", 200, survey, question=question(scale, rt.settings.survey.company, locale),
                 options=options, current=found.answer.score if found.answer else None,
                 action=f"/s/{token}", until=until)


@router.api_route("/s/{token}/{score}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def one_click(request: Request, token: str, score: str):
    rt = _rt(request)
    try:
        value = _parse_score(score)
        if request.method == "HEAD":
            # Link checkers and prefetchers send HEAD: never an answer.
            await run_in_threadpool(open_survey, rt, token)
            return HTMLResponse("", headers={"Cache-Control": "no-store"})
        done = await run_in_threadpool(record_answer, rt, token, value)
    except AnswerError as exc:
        return error_page(request, exc)
    return _thanks(request, done)


@router.post("/s/{token}", response_class=HTMLResponse)
async def submit(request: Request, token: str):
    rt = _rt(request)
    form = await request.form()
    raw_score, comment = form.get("score"), form.get("comment")
    comment = comment if isinstance(comment, str) else None
    try:
        value = _parse_score(raw_score if isinstance(raw_score, str) else None)
        done = await run_in_threadpool(record_answer, rt, token, value, comment)
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
