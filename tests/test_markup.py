"""Customer text is data in every markup it lands in (connectors/markup.py), with the payloads that
used to become pings and disguised links."""

from __future__ import annotations

import json
import re

from ces.connectors import markup
from ces.worker.alerts import content

PING, DISGUISED, LINK, BOLD, SCRIPT = "<!channel>", "<https://evil.example|Open ticket>", "[click](https://evil)", \
    "*bold*", "<script>alert(1)</script>"
COMMENT = f"{PING} look: {DISGUISED}\n{LINK} and {BOLD}\n{SCRIPT} & more"


def test_slack_escapes_the_three_characters_slack_documents():
    assert markup.slack(f"{PING} {DISGUISED} a & b") == (
        "&lt;!channel&gt; &lt;https://evil.example|Open ticket&gt; a &amp; b")
    assert markup.slack("&lt;") == "&amp;lt;"  # an entity the customer typed stays what they typed


def test_a_slack_quote_holds_every_line():
    assert markup.slack_quote(COMMENT) == [
        "> &lt;!channel&gt; look: &lt;https://evil.example|Open ticket&gt;\n"
        "> [click](https://evil) and *bold*\n"
        "> &lt;script&gt;alert(1)&lt;/script&gt; &amp; more"]
    assert markup.slack_quote("one\n\nthree") == ["> one\n> \n> three"]


def test_a_long_slack_quote_is_cut_between_lines_and_never_inside_an_entity():
    pieces = markup.slack_quote("\n".join(["a" * 1000] * 5) + "\n" + "<" * 2000)
    assert all(len(p) <= 3000 for p in pieces) and all(line.startswith("> ") for p in pieces for line in p.split("\n"))
    assert pieces[0] == "\n".join(["> " + "a" * 1000] * 2)  # a third line would not fit
    assert "".join(p.replace("> ", "").replace("\n", "") for p in pieces) == "a" * 5000 + "&lt;" * 2000
    lines = [line[2:] for p in pieces for line in p.split("\n")]
    assert all(re.fullmatch(r"(?:[^&]|&lt;|&gt;|&amp;)*", line) for line in lines)  # whole entities only


def test_teams_text_is_a_textrun_which_has_no_markdown():
    assert markup.teams(LINK, weight="Bolder") == {"type": "TextRun", "text": LINK, "weight": "Bolder"}
    assert markup.teams_lines(COMMENT) == [{"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": line}]}
                                           for line in COMMENT.splitlines()]


def test_html_escapes_and_keeps_lines():
    assert markup.html(COMMENT) == ("&lt;!channel&gt; look: &lt;https://evil.example|Open ticket&gt;<br>"
                                    "[click](https://evil) and *bold*<br>"
                                    "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more")
    assert markup.html('"quoted" \'too\'') == "&quot;quoted&quot; &#x27;too&#x27;"


def test_markdown_escapes_every_punctuation_character_and_keeps_lines():
    assert markup.markdown(COMMENT) == (
        r"\<\!channel\> look\: \<https\:\/\/evil\.example\|Open ticket\>  " "\n"
        r"\[click\]\(https\:\/\/evil\) and \*bold\*  " "\n"
        r"\<script\>alert\(1\)\<\/script\> \& more")
    assert markup.markdown("# heading\n- item\n1. first\n> quote") == (
        "\\# heading  \n\\- item  \n1\\. first  \n\\> quote")


def _digest(team: str, reason: str) -> dict:
    links = {"acknowledge": "https://ces.example/a/1", "followed_up": "https://ces.example/a/2"}
    return {"kind": "digest", "team": team, "date": "2026-11-24", "tickets": [
        {"ticket_id": "5158", "connector": "zendesk-main", "ticket_url": None, "index": 60,
         "reasons": [{"code": "group_transfers", "text": reason}], "links": links}]}


def test_a_digest_escapes_the_helpdesks_team_and_group_names():
    digest = _digest(f"Billing {PING}", f"transferred once: Billing → {DISGUISED}")
    slack = json.dumps(content.slack(digest))
    assert PING not in slack and DISGUISED not in slack and "Billing &lt;!channel&gt;" in slack
    card = content.teams(digest)["attachments"][0]["content"]
    runs = [r["text"] for block in card["body"] for r in block["inlines"]]
    assert all(block["type"] == "RichTextBlock" for block in card["body"])
    assert any(DISGUISED in r for r in runs) and any(f"Billing {PING}" in r for r in runs)
