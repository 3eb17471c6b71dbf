"""The health rules: each a small function of plain facts (times as Unix seconds) that returns a
Finding, with the cause in words and the fix, or None when the rule sees nothing wrong.
README "Health" lists them; the thresholds are [health] settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

OK, WARNING, FAILING = "ok", "warning", "failing"
SEVERITY = {OK: 0, WARNING: 1, FAILING: 2}


@dataclass(frozen=True)
class Finding:
    state: str  # warning or failing
    cause: str
    fix: str


def when(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def worst(findings: list[Finding | None]) -> str:
    return max((f.state for f in findings if f), key=SEVERITY.__getitem__, default=OK)


def api_refused(api: dict, secret: str) -> Finding | None:
    """The helpdesk answered 401/403 since the last call that worked: failing at once."""
    status = api.get("auth_status")
    if status not in (401, 403):
        return None
    words = "rejected our credentials" if status == 401 else "refused the permission we need"
    return Finding(FAILING, f"the helpdesk {words} (answered {status} at {when(api.get('last_api_error_at'))})",
                   f"create a new API token (or give the API user the permission) and set it in {secret}; "
                   "the next probe clears this")


def stored_problem(connector_id: str, problem: str | None) -> Finding | None:
    """A console connector that cannot work as stored: no key of CES_SECRET_KEY opens its secrets,
    or its settings no longer validate. Failing until the key is back or the connector edited."""
    if problem is None:
        return None
    edit = f"/admin/connectors/{connector_id}/edit"
    if "CES_SECRET_KEY" in problem:
        fix = ("put the earlier key back in CES_SECRET_KEY (first, or after the new one) in every process and "
               f"restart them, or type its secrets again at {edit}")
    else:
        fix = f"edit it at {edit}"
    return Finding(FAILING, problem, fix)


def unreachable(api: dict, now: float, minutes: float) -> Finding | None:
    """No answer (connection errors, 5xx) since down_since: a warning, failing after `minutes`."""
    since = api.get("down_since")
    if since is None:
        return None
    state = FAILING if now - since >= minutes * 60 else WARNING
    return Finding(state, f"the helpdesk is unreachable for {_minutes(now - since)} "
                          f"({api.get('last_api_error') or 'no answer'})",
                   "check the helpdesk's status page, its base_url and the network (proxy, firewall, DNS); "
                   "calls are retried meanwhile")


def signature_burst(failures: int, threshold: int, minutes: float, secret: str) -> Finding | None:
    """Many webhooks with a bad signature at once: most likely the webhook secret was rotated."""
    if failures < threshold:
        return None
    return Finding(WARNING, f"{failures} webhooks with a bad signature in the last {minutes:g} min: "
                            "secret rotated?",
                   f"set the helpdesk's current webhook secret in {secret} (or put the old one back in the "
                   "helpdesk); refused webhooks are retried by the helpdesk")


def smtp_refusing(smtp: dict, in_a_row: int) -> Finding | None:
    """The mail server refused since the last mail it took: failing at once when it cannot be
    reached or refuses the login, else (one mailbox it refused, "550 unknown user") a warning until
    `in_a_row` refusals follow each other."""
    refused = smtp.get("last_refusal_at")
    if refused is None or refused < (smtp.get("last_send_at") or 0):
        return None
    answered = str(smtp.get("last_refusal")).startswith("mail server answered")
    state = WARNING if answered and (smtp.get("refusals_in_a_row") or 0) < in_a_row else FAILING
    return Finding(state, f"the mail server refuses: {smtp.get('last_refusal')} (at {when(refused)})",
                   "check [smtp] host, port, TLS and the login (username_env / password_env), and that the "
                   "relay accepts the sender; surveys are retried")


def backlog_growing(samples: list[tuple[float, int]], now: float, minutes: float) -> Finding | None:
    """Work waiting that has not once drained and has grown over the last `minutes`."""
    window = [(t, n) for t, n in samples if t >= now - minutes * 60]
    older = [t for t, _ in samples if t < now - minutes * 60]
    if not window or not older or min(n for _, n in window) == 0 or window[-1][1] <= window[0][1]:
        return None
    return Finding(FAILING, f"the backlog grew from {window[0][1]} to {window[-1][1]} items in "
                            f"{_minutes(window[-1][0] - window[0][0])} without draining",
                   "start more workers (`ces worker`, [worker] concurrency) or find what slows them in the "
                   "logs (a helpdesk rate limit, a slow database)")


def scheduler_silent(last_sweep: float | None, now: float, seconds: float) -> Finding | None:
    if last_sweep is not None and now - last_sweep < seconds:
        return None
    since = "never swept" if last_sweep is None else f"no sweep for {_minutes(now - last_sweep)}"
    return Finding(FAILING, f"the scheduler is not running ({since})",
                   "start exactly one `ces scheduler` (or `ces up`); without it delayed surveys, retries "
                   "and these checks stop")


def redis_down(reachable: bool) -> Finding | None:
    if reachable:
        return None
    return Finding(FAILING, "Redis (the broker) does not answer: webhooks are still stored, but nothing is "
                            "queued and these counters are not kept",
                   "start Redis or fix broker_url; the scheduler queues what waited once it is back")
