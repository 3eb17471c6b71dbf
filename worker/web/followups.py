"""/a/{token}: a recipient's own link to acknowledge an alert or mark it followed up. GET shows the
case and a confirm button (mail scanners change nothing); only the POST changes the state."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ces.worker.alerts.followup import LinkView, UnknownLink, act, look
from ces.worker.db.models import Ticket
from ces.worker.surveys.render import render
from ces.worker.web.bodies import NotAForm, TooLarge
from ces.worker.web.pages import _HEADERS, form_of, form_refused

router = APIRouter()
STATES = {"open": "open", "acknowledged": "acknowledged", "followed_up": "followed up"}


def _page(request: Request, view: LinkView | None, *, status: int = 200, done: bool = False) -> HTMLResponse:
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
    button = "Acknowledge" if view.link.action == "acknowledge" else "Mark as followed up"
    title = "Thank you" if done else ("Acknowledge this alert" if view.link.action == "acknowledge"
                                      else "Mark this alert as followed up")
    html = render("followup.html", "en", company=company, title=title, ticket_id=ticket.external_id,
                  ticket_url=ticket.ticket_url, team=case.team, agent=case.agent, state_text=STATES[case.state],
                  acknowledged=case.acknowledged_at is not None, acknowledged_by=case.acknowledged_by,
                  acknowledged_at=f"{case.acknowledged_at:%Y-%m-%d %H:%M} UTC" if case.acknowledged_at else "",
                  followed_up=case.followed_up_at is not None, followed_up_by=case.followed_up_by,
                  followed_up_at=f"{case.followed_up_at:%Y-%m-%d %H:%M} UTC" if case.followed_up_at else "",
                  action_url=f"/a/{view.link.token}" if usable else None, button=button)
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
    try:
        form = await form_of(request)
    except (TooLarge, NotAForm) as exc:
        return form_refused(request, exc, "This form is too large")
    try:
        view = await run_in_threadpool(act, request.app.state.rt, token, form.get("who"))
    except UnknownLink:
        return _page(request, None)
    return _page(request, view, done=True)
