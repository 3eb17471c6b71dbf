"""What an alert says, built once when the alert is created (Alert.content), and how each route
shows it: plain text (internal note, e-mail, fallbacks), Slack Block Kit, a Teams Adaptive Card."""

from __future__ import annotations

from typing import Any

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


def text(c: dict[str, Any]) -> str:
    """Plain text: the internal note, the e-mail body, every route's fallback."""
    if c["kind"] == "digest":
        lines = [f"{HEADLINES['digest']} ({c['team'] or 'no team'}, {len(c['tickets'])}):"]
        for t in c["tickets"]:
            lines.append(f"- #{t['ticket_id']} effort {t['index']}: {'; '.join(r['text'] for r in t['reasons'])}"
                         + (f" {t['ticket_url']}" if t.get("ticket_url") else ""))
            lines.append(f"  acknowledge: {t['links']['acknowledge']}  followed up: {t['links']['followed_up']}")
        return "\n".join(lines)
    lines = [f"{HEADLINES[c['kind']]}: ticket #{c['ticket_id']}" + (f" ({c['subject']})" if c.get("subject") else "")]
    if c["kind"] == "update" and c.get("previous"):
        p = c["previous"]
        lines.append(f"The customer changed the answer from {p['score']} to {c['score']}." if p["score"] != c["score"]
                     else "The customer added a comment.")
    lines.append(f"Answer: {score_text(c)}, customer {customer_text(c)}")
    if c.get("comment"):
        lines.append(f'Comment: "{c["comment"]}"')
    lines.append(f"Agent: {c.get('agent') or '-'} · team: {c.get('team') or '-'} · channel: {c.get('channel') or '-'}")
    if c.get("reasons"):
        lines.append(f"Effort {c.get('level', 'high')} ({c.get('index', '-')}): "
                     + "; ".join(r["text"] for r in c["reasons"]))
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


def _button(label: str, url: str, style: str | None = None) -> dict:
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
    if style:
        button["style"] = style
    return button


def slack(c: dict[str, Any]) -> dict[str, Any]:
    """Block Kit: headline, score, customer, agent, reasons, and buttons for the ticket and the loop."""
    if c["kind"] == "digest":
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": HEADLINES["digest"]}},
                  {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Team: *{c['team'] or 'no team'}*"}]}]
        for t in c["tickets"][:45]:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text":
                           f"*#{t['ticket_id']}* · effort {t['index']}\n" + "; ".join(r["text"] for r in t["reasons"])},
                           "accessory": _button("Acknowledge", t["links"]["acknowledge"])})
        return {"text": text(c)[:3000], "blocks": blocks}
    fields = [{"type": "mrkdwn", "text": f"*Answer*\n{score_text(c)}"},
              {"type": "mrkdwn", "text": f"*Customer*\n{customer_text(c)}"},
              {"type": "mrkdwn", "text": f"*Agent*\n{c.get('agent') or '-'}"},
              {"type": "mrkdwn", "text": f"*Team*\n{c.get('team') or '-'}"}]
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{HEADLINES[c['kind']]}: #{c['ticket_id']}"}},
        {"type": "section", "fields": fields},
    ]
    if c.get("comment"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"> {c['comment'][:2900]}"}})
    if c.get("reasons"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Why*\n" + "\n".join(
            f"• {r['text']}" for r in c["reasons"])}})
    buttons = []
    if c.get("ticket_url"):
        buttons.append(_button("Open ticket", c["ticket_url"], "primary"))
    if c.get("links"):
        buttons.append(_button("Acknowledge", c["links"]["acknowledge"]))
        buttons.append(_button("Followed up", c["links"]["followed_up"]))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": text(c).splitlines()[0], "blocks": blocks}


def teams(c: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message carrying an Adaptive Card."""
    body: list[dict] = [{"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True,
                         "text": text(c).splitlines()[0]}]
    actions = []
    if c["kind"] == "digest":
        for t in c["tickets"]:
            body.append({"type": "TextBlock", "wrap": True, "text":
                         f"**#{t['ticket_id']}** · effort {t['index']}: " + "; ".join(r["text"] for r in t["reasons"])})
    else:
        body.append({"type": "FactSet", "facts": [
            {"title": "Answer", "value": score_text(c)}, {"title": "Customer", "value": customer_text(c)},
            {"title": "Agent", "value": c.get("agent") or "-"}, {"title": "Team", "value": c.get("team") or "-"}]})
        if c.get("comment"):
            body.append({"type": "TextBlock", "wrap": True, "isSubtle": True, "text": f"\u201c{c['comment']}\u201d"})
        if c.get("reasons"):
            body.append({"type": "TextBlock", "wrap": True, "text": "\n".join(f"- {r['text']}" for r in c["reasons"])})
        if c.get("ticket_url"):
            actions.append({"type": "Action.OpenUrl", "title": "Open ticket", "url": c["ticket_url"]})
        if c.get("links"):
            actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": c["links"]["acknowledge"]})
            actions.append({"type": "Action.OpenUrl", "title": "Followed up", "url": c["links"]["followed_up"]})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body, "actions": actions}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}
