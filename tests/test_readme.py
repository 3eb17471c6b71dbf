"""README stays the truth: its configuration examples are valid, its commands exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from ces.config.settings import validate_connectors

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```toml\n(.*?)```", README, re.S)
CONNECTOR_BLOCKS = [b for b in BLOCKS if "[[connectors]]" in b]


def test_every_kind_has_an_example():
    kinds = {tomllib.loads(b)["connectors"][0]["kind"] for b in CONNECTOR_BLOCKS}
    from ces.connectors.registry import known_kinds

    assert kinds == set(known_kinds())


@pytest.mark.parametrize("block", CONNECTOR_BLOCKS, ids=lambda b: re.search(r'kind = "(\w+)"', b).group(1))
def test_connector_examples_validate(block):
    connectors, problems = validate_connectors(tomllib.loads(block)["connectors"], "README")
    assert problems == [] and len(connectors) == 1


def test_survey_wording_example_validates():
    from ces.config.models import SurveySettings

    [block] = [b for b in BLOCKS if "[survey.wording.es]" in b]
    wording = tomllib.loads(block)["survey"]["wording"]
    assert SurveySettings(wording=wording).wording["es"].labels[0] == "Totalmente en desacuerdo"


def test_commands_in_the_command_table_exist():
    from typer.main import get_command

    from ces.worker.cli import app

    root = get_command(app)
    table = README[README.index("## Command line"):README.index("## HTTP")]
    commands = re.findall(r"^\| `ces ([a-z-]+)(?: ([a-z-]+))?", table, re.M)
    assert len(commands) > 15
    for first, second in commands:
        assert first in root.commands, first
        group = getattr(root.commands[first], "commands", None)
        if second and group is not None:
            assert second in group, f"{first} {second}"


def test_alerts_example_validates():
    from ces.config.models import AlertSettings

    [block] = [b for b in BLOCKS if "[[alerts.routes]]" in b]
    alerts = AlertSettings.model_validate(tomllib.loads(block)["alerts"])
    assert {r.type for r in alerts.routes} == {"note", "slack", "teams", "email", "webhook"}


def test_console_example_validates():
    from ces.config.models import ConsoleSettings

    [block] = [b for b in BLOCKS if "[console.oidc]" in b]
    console = ConsoleSettings.model_validate(tomllib.loads(block)["console"])
    assert console.oidc.roles["support-leads"] == "lead" and console.oidc.teams["team-billing"] == ["Billing"]


def test_every_kinds_delivery_rule_is_written_down():
    """README's deliveries table says, per kind, what the connector's DeliveryRule says."""
    from ces.connectors.registry import connector_class, known_kinds

    table = README[README.index("### Deliveries"):README.index("Everything downstream")]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", table, re.M)}
    assert set(rows) == set(known_kinds())
    for kind in known_kinds():
        rule = connector_class(kind).delivery
        assert rows[kind].strip() == rule.key, kind
        window, signed = table.split(f"| `{kind}` |")[1].split("\n")[0].split("|")[1:3]
        assert ("for ever" in window) == (rule.window is None), kind
        assert (signed.strip() == "yes") == rule.signed, kind
        if rule.window:
            assert window.strip().startswith(f"{rule.window.total_seconds() / 3600:g} hours"), kind
