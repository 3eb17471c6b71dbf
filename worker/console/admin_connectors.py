"""/admin/connectors: the helpdesks, for admins alone (others get 403 on every URL).

The TOML file's connectors are listed read-only, marked "provisioned". A new one: choose the kind,
fill the form made from its settings model (connector_form.py), and "Test and save" validates it
exactly as `ces config check` would, checks the address (helpdesk_address.py) and runs the checks
of `ces connectors test`; only a connector that passes is saved. Then the console provisions the
webhook in the helpdesk where the connector can (`provision()`, capability "provision"), or shows
the setup steps with the values filled in and waits for the first signed webhook (a small htmx
poll of the events table). Edit, disable, dry-run, rotate the webhook secret, delete: each one a
change of worker/stored_connectors.py, audited there without secrets. No secret is ever rendered.
"""

from __future__ import annotations

import re

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from ces.config.secrets import Held
from ces.connectors.base import PROVISION
from ces.connectors.errors import Unsupported
from ces.connectors.models import CheckResult
from ces.connectors.registry import connector_class, known_kinds
from ces.worker import audit, secretbox, stored_connectors
from ces.worker.console import connector_form
from ces.worker.console.auth import Caller, require
from ces.worker.console.followups import Clock
from ces.worker.console.render import NotFound, environment, page, redirect
from ces.worker.console.security import console_router
from ces.worker.console.services import address_of, rt_of
from ces.worker.db.models import Role
from ces.worker.helpdesk_address import run_checks
from ces.worker.i18n import N_
from ces.worker.stored_connectors import WEBHOOK_SECRET, StoreError

router = console_router()
admin = require(Role.ADMIN)
BASE = "/admin/connectors"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
FLAGS = {"disable": {"enabled": False}, "enable": {"enabled": True},
         "dry-run": {"dry_run": True}, "live": {"dry_run": False}}
DONE = {"updated": N_("Saved."), "disable": N_("Disabled: its webhooks are still stored, no survey goes out."),
        "enable": N_("Enabled."), "dry-run": N_("Dry run: it works as usual but sends no survey."),
        "live": N_("Surveys go out."), "deleted": N_("Deleted. Its data is kept."),
        "erased": N_("Deleted, and its data erased.")}


def _kind(value: str | None) -> str:
    if value not in known_kinds():
        raise NotFound
    return value


def _stored(rt, connector_id: str) -> stored_connectors.Loaded:
    if not _ID.match(connector_id):
        raise NotFound
    found = next((c for c in stored_connectors.stored(rt) if c.row_id == connector_id), None)
    if found is None:
        raise NotFound
    return found


def _build(rt, settings):
    return connector_class(settings.kind)(settings, http=rt.http, public_url=rt.settings.public_url)


@router.get(BASE)
async def listing(request: Request, caller: Caller = Depends(admin)):
    rt = rt_of(request)
    stored = await run_in_threadpool(stored_connectors.stored, rt)
    return page(request, "admin_connectors.html", caller=caller, provisioned=rt.settings.connectors,
                stored=stored, titles=_titles(), clock=Clock(rt), notice=DONE.get(request.query_params.get("done")))


def _by(request: Request, caller: Caller) -> dict[str, str | None]:
    """Who made a change and from where, for the audit log."""
    return {"actor": audit.user(caller.person.id), "address": address_of(request)}


def _titles() -> dict[str, str]:
    return {kind: connector_class(kind).title for kind in known_kinds()}


@router.get(BASE + "/new")
async def new(request: Request, caller: Caller = Depends(admin)):
    kind = request.query_params.get("kind")
    if not kind:
        return page(request, "admin_connectors_kind.html", caller=caller, titles=_titles())
    return _form(request, caller, _kind(kind), {}, set())


def _form(request: Request, caller: Caller, kind: str, values: dict, stored_secrets: set[str], *,
          connector_id: str | None = None, problems=(), results=(), status: int = 200) -> HTMLResponse:
    return page(request, "admin_connectors_form.html", status=status, caller=caller, kind=kind,
                title=connector_class(kind).title, fields=connector_form.fields_of(kind),
                secrets=connector_form.secret_names(kind), stored_secrets=stored_secrets, values=values,
                connector_id=connector_id, problems=problems, results=results,
                provisions=_provisions(kind) and connector_id is None)


def _problems(exc: Exception) -> list:
    """A StoreError's problems, or CES_SECRET_KEY's (not set, not a key) as one."""
    return exc.problems if isinstance(exc, StoreError) else stored_connectors.refused(secretbox.VARIABLE, str(exc)).problems


def _provisions(kind: str) -> bool:
    return PROVISION in connector_class(kind).capabilities and WEBHOOK_SECRET in connector_class(kind).Settings.secret_names


def _until_provisioned(kind: str, secrets: dict[str, str]) -> dict[str, str]:
    """A kind that sets up its webhook through the helpdesk's API needs no webhook secret typed: a
    random one holds the place until provisioning reads the helpdesk's (Zendesk) or gives the
    helpdesk this one (Zammad); the API token is then all an admin takes from the helpdesk."""
    if _provisions(kind) and not secrets.get(WEBHOOK_SECRET):
        return secrets | {WEBHOOK_SECRET: stored_connectors.new_webhook_secret()}
    return secrets


def _tested(rt, kind: str, fields: dict, secrets: dict[str, str]):
    """(problems, results): validation as `ces config check`, then the address and `ces connectors test`."""
    try:
        settings = stored_connectors.validate(kind, fields, Held({k: [v] for k, v in secrets.items()}))
    except StoreError as exc:
        return exc.problems, []
    results = run_checks(_build(rt, settings), check_address_first=True,
                         allow_http=rt.settings.console.allow_http_helpdesks)
    return [], results


@router.post(BASE + "/new")
async def create(request: Request, caller: Caller = Depends(admin)):
    form = await request.form()
    kind, rt = _kind(str(form.get("kind"))), rt_of(request)
    fields, secrets = connector_form.read(kind, form)
    secrets = _until_provisioned(kind, secrets)
    problems, results = await run_in_threadpool(_tested, rt, kind, fields, secrets)
    if not problems and all(r.ok for r in results):
        try:
            await run_in_threadpool(stored_connectors.create, rt, kind, fields, secrets,
                                    **_by(request, caller))
        except (StoreError, secretbox.NoKey) as exc:
            problems = _problems(exc)
        else:
            return await _after_save(request, caller, fields["id"])
    return _form(request, caller, kind, fields, set(), problems=problems, results=results, status=422)


async def _after_save(request: Request, caller: Caller, connector_id: str):
    """Provision the webhook where the connector can; else the detail page shows the steps."""
    rt = rt_of(request)
    steps = await run_in_threadpool(_provision, rt, _by(request, caller), connector_id)
    if steps is None:
        return redirect(f"{BASE}/{connector_id}")
    return await _detail(request, caller, connector_id, provisioned=steps)


def _provision(rt, by: dict, connector_id: str):
    """The connector's own provision(), its secrets stored, then a test delivery; None if it cannot."""
    loaded = _stored(rt, connector_id)
    conn = _build(rt, loaded.settings)
    if "provision" not in conn.capabilities:
        return None
    done = conn.provision()
    if done.secrets:
        stored_connectors.update(rt, connector_id, None, dict(done.secrets), **by)
    if not done.ok:
        return done.steps
    return done.steps + [_test_delivery(rt, connector_id)]


def _test_delivery(rt, connector_id: str):
    """The helpdesk's signed test webhook to our intake, which confirms the setup end to end; where
    the helpdesk cannot send one, the page waits for the first real webhook instead."""
    rt.live_connectors.check()  # this process takes the stored secret now, not at its next poll
    conn = rt.connectors.get(connector_id)
    try:
        return conn.test_delivery()
    except Unsupported:
        return CheckResult("test delivery", True, "the helpdesk sends no test webhook: waiting for the first real one")


@router.get(BASE + "/{connector_id}")
async def detail(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    return await _detail(request, caller, connector_id)


async def _detail(request: Request, caller: Caller, connector_id: str, *, provisioned=None, results=None,
                  new_secret: str | None = None):
    rt = rt_of(request)
    toml = rt.settings.connector(connector_id)
    if toml is not None:
        return page(request, "admin_connectors_toml.html", caller=caller, conn=toml, title=_titles()[toml.kind],
                    webhook_url=_build(rt, toml).webhook_url)
    loaded = await run_in_threadpool(_stored, rt, connector_id)
    conn = _build(rt, loaded.settings) if loaded.settings is not None else None
    setup = conn.setup_instructions() if conn is not None and provisioned is None else None
    return page(request, "admin_connectors_detail.html", caller=caller, c=loaded, conn=conn,
                title=_titles()[loaded.kind], fields=connector_form.fields_of(loaded.kind),
                values=connector_form.values_of(loaded.settings), setup=setup, provisioned=provisioned,
                results=results, new_secret=new_secret, clock=Clock(rt),
                grace_hours=rt.settings.console.webhook_secret_grace_hours,
                notice=DONE.get(request.query_params.get("done")),
                first=await run_in_threadpool(stored_connectors.first_webhook, rt, connector_id))


@router.get(BASE + "/{connector_id}/first-webhook")
async def first_webhook(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    """htmx, every few seconds until it arrived: whether a signed webhook was accepted, and when."""
    rt = rt_of(request)
    loaded = await run_in_threadpool(_stored, rt, connector_id)
    first = await run_in_threadpool(stored_connectors.first_webhook, rt, loaded.row_id)
    html = environment("en").get_template("admin_connectors_first.html").render(
        c=loaded, first=first, clock=Clock(rt))
    return HTMLResponse(html)


@router.get(BASE + "/{connector_id}/edit")
async def edit(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    loaded = await run_in_threadpool(_stored, rt_of(request), connector_id)
    return _form(request, caller, loaded.kind, connector_form.values_of(loaded.settings), set(loaded.secret_names),
                 connector_id=connector_id)


@router.post(BASE + "/{connector_id}/edit")
async def save(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    """Test and save, as for a new one: the blank secrets are the stored ones."""
    rt, form = rt_of(request), await request.form()
    loaded = await run_in_threadpool(_stored, rt, connector_id)
    fields, typed = connector_form.read(loaded.kind, form)
    fields["id"] = connector_id
    cleared = connector_form.cleared(loaded.kind, form) - set(typed)
    secrets = typed
    if loaded.settings is not None and loaded.problem is None:  # the stored values, for the test
        secrets = {n: loaded.settings.secret(n) for n in set(loaded.secret_names) - cleared} | typed
    problems, results = await run_in_threadpool(_tested, rt, loaded.kind, fields, secrets)
    if not problems and all(r.ok for r in results):
        try:
            await run_in_threadpool(lambda: stored_connectors.update(rt, connector_id, fields, typed, cleared=cleared,
                                                                     **_by(request, caller)))
            return redirect(f"{BASE}/{connector_id}?done=updated")
        except (StoreError, secretbox.NoKey) as exc:
            problems = _problems(exc)
    return _form(request, caller, loaded.kind, fields, set(loaded.secret_names), connector_id=connector_id,
                 problems=problems, results=results, status=422)


@router.post(BASE + "/{connector_id}/test")
async def test(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    rt = rt_of(request)
    loaded = await run_in_threadpool(_stored, rt, connector_id)
    if loaded.settings is None:
        raise NotFound
    results = await run_in_threadpool(run_checks, _build(rt, loaded.settings), check_address_first=True,
                                      allow_http=rt.settings.console.allow_http_helpdesks)
    return await _detail(request, caller, connector_id, results=results)


@router.post(BASE + "/{connector_id}/flags")
async def flags(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    action = str((await request.form()).get("action"))
    if action not in FLAGS:
        raise NotFound
    rt = rt_of(request)
    await run_in_threadpool(_stored, rt, connector_id)
    await run_in_threadpool(lambda: stored_connectors.set_flags(rt, connector_id, **_by(request, caller),
                                                                **FLAGS[action]))
    return redirect(f"{BASE}/{connector_id}?done={action}")


@router.post(BASE + "/{connector_id}/rotate")
async def rotate(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    """A new webhook secret (typed, e.g. the helpdesk's, or made here and shown this once)."""
    rt, form = rt_of(request), await request.form()
    await run_in_threadpool(_stored, rt, connector_id)
    typed = str(form.get("secret") or "").strip()[:connector_form.MAX_VALUE]
    try:
        value = await run_in_threadpool(lambda: stored_connectors.rotate_webhook_secret(
            rt, connector_id, typed or None, **_by(request, caller)))
    except (secretbox.CannotDecrypt, secretbox.NoKey) as exc:
        return await _detail(request, caller, connector_id, results=[_failed("rotate", str(exc))])
    return await _detail(request, caller, connector_id, new_secret=None if typed else value)


def _failed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, False, detail)


@router.get(BASE + "/{connector_id}/delete")
async def confirm_delete(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    loaded = await run_in_threadpool(_stored, rt_of(request), connector_id)
    return page(request, "admin_connectors_delete.html", caller=caller, c=loaded)


@router.post(BASE + "/{connector_id}/delete")
async def delete(request: Request, connector_id: str, caller: Caller = Depends(admin)):
    rt, data = rt_of(request), str((await request.form()).get("data") or "keep")
    if data not in ("keep", "erase"):
        raise NotFound
    await run_in_threadpool(_stored, rt, connector_id)
    await run_in_threadpool(lambda: stored_connectors.delete(rt, connector_id, erase=data == "erase",
                                                             **_by(request, caller)))
    return redirect(f"{BASE}?done=" + ("erased" if data == "erase" else "deleted"))
