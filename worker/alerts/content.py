"""What an alert says, built once when the alert is created (Alert.content), and how each route
shows it: plain text (internal note, e-mail, fallbacks), Slack Block Kit, a Teams Adaptive Card.

Everything in an alert but our own words comes from outside (the customer's comment, name and
address, the ticket's subject, team and agent names from the helpdesk): it goes through
connectors/markup.py for the route's markup, and a comment is always shown whole."""

from __future__ import annotations

from typing import Any

from ces.connectors import markup

HEADLINES = {
    "alert": "High effort reported",
    "update": "Update on a high-effort report",
    "digest": "High-effort tickets flagged by their signals",
}


def score_text(c: dict[str, Any]) -> str:
    return f"{c['score']} of {c['points']} ({c['label']})"


def customer_text(c: dict[str, Any]) -> str:
    customer = c.get("customer") or {}
    name, email = customer.get("name"), customer.get("email")
    return f"{name} <{email}>" if name and email else (name or email or "unknown customer")


def headline(c: dict[str, Any]) -> str:
    if c["kind"] == "digest":
        return f"{HEADLINES['digest']} ({c['team'] or 'no team'}, {len(c['tickets'])})"
    return f"{HEADLINES[c['kind']]}: ticket #{c['ticket_id']}" + (f" ({c['subject']})" if c.get("subject") else "")


def changes_text(c: dict[str, Any]) -> str | None:
    """What an update changed since the recipient's previous message ("score changed from 2 to 4")."""
    if c["kind"] != "update":
        return None
    changes = c.get("changes")
    if changes is None and c.get("previous"):  # an update made before updates listed their changes
        changes = [f"score changed from {c['previous']['score']} to {c['score']}"
                   if c["previous"]["score"] != c["score"] else "new comment"]
    return "What changed: " + "; ".join(changes) if changes else None


def facts(c: dict[str, Any]) -> list[tuple[str, str]]:
    return [("Answer", score_text(c)), ("Customer", customer_text(c)), ("Agent", c.get("agent") or "-"),
            ("Team", c.get("team") or "-")]


def reasons_text(reasons: list[dict]) -> str:
    return "; ".join(r["text"] for r in reasons)


def text(c: dict[str, Any]) -> str:
    """Plain text: the internal note, the e-mail body, every route's fallback."""
    if c["kind"] == "digest":
        lines = [headline(c) + ":"]
        for t in c["tickets"]:
            lines.append(f"- #{t['ticket_id']} effort {t['index']}: {reasons_text(t['reasons'])}"
                         + (f" {t['ticket_url']}" if t.get("ticket_url") else ""))
            lines.append(f"  acknowledge: {t['links']['acknowledge']}  followed up: {t['links']['followed_up']}")
        return "\n".join(lines)
    lines = [headline(c)]
    if changes_text(c):
        lines.append(changes_text(c))
    lines.append(f"Answer: {score_text(c)}, customer {customer_text(c)}")
    if c.get("comment"):
        lines.append("Comment:")
        lines.extend(f"> {line}" for line in c["comment"].splitlines())
    lines.append(f"Agent: {c.get('agent') or '-'} · team: {c.get('team') or '-'} · channel: {c.get('channel') or '-'}")
    if c.get("reasons"):
        lines.append(f"Effort {c.get('level', 'high')} ({c.get('index', '-')}): {reasons_text(c['reasons'])}")
    if c.get("ticket_url"):
        lines.append(f"Ticket: {c['ticket_url']}")
    if c.get("links"):
        lines.append(f"Acknowledge: {c['links']['acknowledge']}")
        lines.append(f"Followed up: {c['links']['followed_up']}")
    return "\n".join(lines)


def subject(c: dict[str, Any]) -> str:
    if c["kind"] == "digest":
        return f"[CES] {len(c['tickets'])} high-effort tickets ({c['team'] or 'no team'})"
    return f"[CES] {HEADLINES[c['kind']]}: ticket #{c['ticket_id']}, {score_text(c)}"


# --- Slack ----------------------------------------------------------------------------------------------
def _button(label: str, url: str, style: str | None = None) -> dict:
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
    if style:
        button["style"] = style
    return button


def _mrkdwn(value: str) -> dict:
    return {"type": "mrkdwn", "text": value}


def slack(c: dict[str, Any]) -> dict[str, Any]:
    """Block Kit: headline, score, customer, agent, reasons, and buttons for the ticket and the loop.
    `text` (the notification) is mrkdwn too: escaped like every block."""
    esc = markup.slack
    if c["kind"] == "digest":
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": HEADLINES["digest"]}},
                  {"type": "context", "elements": [_mrkdwn(f"Team: *{esc(c['team'] or 'no team')}*")]}]
        for t in c["tickets"][:45]:
            blocks.append({"type": "section", "text": _mrkdwn(
                f"*#{esc(str(t['ticket_id']))}* · effort {t['index']}\n{esc(reasons_text(t['reasons']))}"),
                "accessory": _button("Acknowledge", t["links"]["acknowledge"])})
        return {"text": esc(text(c))[:3000], "blocks": blocks}
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{HEADLINES[c['kind']]}: #{c['ticket_id']}"[:150]}},
    ]
    if changes_text(c):
        blocks.append({"type": "context", "elements": [_mrkdwn(esc(changes_text(c)))]})
    blocks.append({"type": "section", "fields": [_mrkdwn(f"*{title}*\n{esc(value)}") for title, value in facts(c)]})
    if c.get("comment"):
        blocks.extend({"type": "section", "text": _mrkdwn(piece)} for piece in markup.slack_quote(c["comment"]))
    if c.get("reasons"):
        blocks.append({"type": "section", "text": _mrkdwn("*Why*\n" + "\n".join(
            f"• {esc(r['text'])}" for r in c["reasons"]))})
    buttons = []
    if c.get("ticket_url"):
        buttons.append(_button("Open ticket", c["ticket_url"], "primary"))
    if c.get("links"):
        buttons.append(_button("Acknowledge", c["links"]["acknowledge"]))
        buttons.append(_button("Followed up", c["links"]["followed_up"]))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": esc(headline(c)), "blocks": blocks}


# --- Teams ----------------------------------------------------------------------------------------------
def _line(*runs: dict, **block: Any) -> dict:
    return {"type": "RichTextBlock", "inlines": list(runs), **block}


def teams(c: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message carrying an Adaptive Card. Every text that is not ours is a
    TextRun (never Markdown: see markup.teams); the facts are lines of a bold title and a value."""
    run = markup.teams
    body: list[dict] = [_line(run(headline(c), size="Large", weight="Bolder"))]
    actions = []
    if c["kind"] == "digest":
        for t in c["tickets"]:
            body.append(_line(run(f"#{t['ticket_id']}", weight="Bolder"),
                              run(f" · effort {t['index']}: {reasons_text(t['reasons'])}")))
    else:
        if changes_text(c):
            body.append(_line(run(changes_text(c), weight="Bolder")))
        body.extend(_line(run(f"{title}: ", weight="Bolder"), run(value)) for title, value in facts(c))
        if c.get("comment"):
            body.append({"type": "Container", "style": "emphasis",
                         "items": markup.teams_lines(c["comment"], italic=True)})
        body.extend(_line(run(f"• {r['text']}")) for r in c.get("reasons") or [])
        if c.get("ticket_url"):
            actions.append({"type": "Action.OpenUrl", "title": "Open ticket", "url": c["ticket_url"]})
        if c.get("links"):
            actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": c["links"]["acknowledge"]})
            actions.append({"type": "Action.OpenUrl", "title": "Followed up", "url": c["links"]["followed_up"]})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body, "actions": actions}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}
