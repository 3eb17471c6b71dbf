"""Customer text is data, never markup: the same words made safe for each place they land.

One function per target. Each takes plain text (a comment, a name, a subject, a team or agent name
from the helpdesk) and returns it so that the target shows it literally and whole, every line kept.
Plain-text targets (e-mail's text part, Zendesk's `body`, Zammad's `text/plain` articles, a
webhook's JSON) take the text as it is; e-mail HTML is escaped by Jinja's autoescape.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

SLACK_SECTION_LIMIT = 3000  # characters of a Block Kit section's text


def slack(text: str) -> str:
    """Slack mrkdwn: `&`, `<` and `>` as entities, Slack's documented escaping
    (https://api.slack.com/reference/surfaces/formatting#escaping). Unescaped, `<!channel>` pings
    the whole channel and `<https://evil.example|Open ticket>` is a link that hides where it goes."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_quote(text: str, limit: int = SLACK_SECTION_LIMIT) -> list[str]:
    """The whole text as a Slack block quote, every line prefixed with `> `, in pieces of at most
    `limit` characters (one section block each), split between lines where a line fits."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines() or [""]:
        for part in _escaped_parts(line, limit - 2):
            quoted = "> " + part
            if current and len(current) + 1 + len(quoted) > limit:
                pieces.append(current)
                current = quoted
            else:
                current = f"{current}\n{quoted}" if current else quoted
    pieces.append(current)
    return pieces


def _escaped_parts(line: str, room: int) -> list[str]:
    """A line escaped for Slack, cut into parts of at most `room` characters, never inside an entity."""
    parts, part = [], ""
    for char in line:
        escaped = slack(char)
        if len(part) + len(escaped) > room:
            parts.append(part)
            part = ""
        part += escaped
    parts.append(part)
    return parts


def teams(text: str, **style: Any) -> dict[str, Any]:
    """A Teams Adaptive Card TextRun (inside a RichTextBlock). Its text is shown as it is: "Text to
    display. Markdown is not supported." (https://learn.microsoft.com/en-us/adaptive-cards/schema-explorer/text-run),
    whereas Teams reads Markdown in a TextBlock and in a FactSet's titles and values ("Markdown is
    supported in Adaptive Card Textblock field, and Fact.Title and Fact.Value":
    https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format),
    where `[click](https://evil)` would be a link. So customer text only ever goes in TextRuns."""
    return {"type": "TextRun", "text": text, **style}


def teams_lines(text: str, **style: Any) -> list[dict[str, Any]]:
    """Each line of the text as its own RichTextBlock of one TextRun: every line shown, as written."""
    return [{"type": "RichTextBlock", "inlines": [teams(line or " ", **style)]} for line in text.splitlines() or [""]]


def html(text: str) -> str:
    """An HTML body (Freshdesk notes, Intercom notes, HubSpot notes, Help Scout threads): escaped,
    quotes included, each line break a `<br>`."""
    return "<br>".join(_html.escape(line) for line in text.splitlines())


# CommonMark: "Any ASCII punctuation character may be backslash-escaped" (spec, "Backslash escapes"):
# escaping every one of them leaves nothing that starts a link, emphasis, a heading, a list, a quote,
# raw HTML or an entity, whatever flavour the target adds.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def markdown(text: str) -> str:
    """Markdown (Front comments): every ASCII punctuation character backslash-escaped, each line
    ending in a hard break (two spaces) so that lines stay lines."""
    return "  \n".join(_MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in text.splitlines())
