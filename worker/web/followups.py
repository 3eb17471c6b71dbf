"""/a/{token}: a recipient's own link to acknowledge an alert or mark it followed up. GET shows the
case (ticket, team and agent, the customer, their score and comment as the alert told them) and a
confirm button (mail scanners change nothing); only the POST changes the state, and the person who
marks it followed up may say what was done (a short note kept with the case)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ces.worker.alerts.content import customer_text
from ces.worker.alerts.followup import MAX_NOTE, LinkView, NoteTooLong, UnknownLink, act, look
from ces.worker.db.models import Ticket
from ces.worker.surveys.render import render
from ces.worker.web.bodies import NotAForm, TooLarge
from ces.worker.web.pages import _HEADERS, form_of, form_refused

router = APIRouter()
STATES = {"open": "open", "acknowledged": "acknowledged", "followed_up": "followed up"}
SCALES = {"ces7": "CES 2.0: 1 strongly disagree … 7 strongly agree, higher is easier",
          "effort5": "effort: 1 very low … 5 very high, lower is easier"}


def _answer(told: dict | None) -> dict | None:
    """The score, comment and customer of the case's latest alert or update (none for a digest)."""
    if not told or told.get("score") is None:
        return None
    return {"score": told["score"], "points": told["points"], "label": told["label"],
            "scale": SCALES.get(told.get("scale"), told.get("scale")), "comment": told.get("comment"),
            "customer": customer_text(told)}


def _page(request: Request, view: LinkView | None, *, status: int = 200, done: bool = False,
          error: str | None = None, note: str | None = None) -> HTMLResponse:
    rt = request.app.state.rt
    company = rt.settings.survey.company
    if view is None:
        html = render("error.html", "en", company=company, title="This link is not valid",
                      message="It may have been used already, or mistyped.")
        return HTMLResponse(html, status_code=404, headers=_HEADERS)
    case = view.case
    with rt.transaction() as s:
        ticket = s.get(Ticket, case.ticket_pk)
    usable = view.link.used_at is None and not done
    follow_up = view.link.action == "followed_up"
    button = "Mark as followed up" if follow_up else "Acknowledge"
    title = "Thank you" if done else ("Mark this alert as followed up" if follow_up else "Acknowledge this alert")
    html = render("followup.html", "en", company=company, title=title, ticket_id=ticket.external_id,
                  ticket_url=ticket.ticket_url, team=case.team, agent=case.agent, state_text=STATES[case.state],
                  answer=_answer(view.told),
                  acknowledged=case.acknowledged_at is not None, acknowledged_by=case.acknowledged_by,
                  acknowledged_at=f"{case.acknowledged_at:%Y-%m-%d %H:%M} UTC" if case.acknowledged_at else "",
                  followed_up=case.followed_up_at is not None, followed_up_by=case.followed_up_by,
                  followed_up_at=f"{case.followed_up_at:%Y-%m-%d %H:%M} UTC" if case.followed_up_at else "",
                  followed_up_note=case.followed_up_note,
                  action_url=f"/a/{view.link.token}" if usable else None, button=button,
                  ask_note=follow_up, max_note=MAX_NOTE, note=note, error=error)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


@router.get("/a/{token}", response_class=HTMLResponse)
async def show(request: Request, token: str):
    try:
        view = await run_in_threadpool(look, request.app.state.rt, token)
    except UnknownLink:
        return _page(request, None)
    return _page(request, view)


@router.post("/a/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str):
    rt = request.app.state.rt
    try:
        form = await form_of(request)
    except (TooLarge, NotAForm) as exc:
        return form_refused(request, exc, "This form is too large")
    try:
        view = await run_in_threadpool(act, rt, token, form.get("who"), form.get("note"))
    except UnknownLink:
        return _page(request, None)
    except NoteTooLong:  # nothing changed: the page again, the link unused and the text kept
        try:
            view = await run_in_threadpool(look, rt, token)
        except UnknownLink:
            return _page(request, None)
        return _page(request, view, status=422, note=form.get("note"),
                     error=f"The note is longer than {MAX_NOTE} characters. Please shorten it.")
    return _page(request, view, done=True)
