"""The image, the compose file and the reverse proxy agree with each other and with the CLI. No image
is built here (no Docker engine), so they are read statically: every command the image or compose
runs is a `ces` command line that parses, given the image's entry point; only Caddy is published;
Caddy's configuration is valid (Debian's caddy, which .ci/run installs: this fails, never skips,
when it is missing) and bounds slow and oversized requests before they reach the app."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.main import get_command

from ces.config.models import IntakeSettings
from ces.worker.cli import app
from tests.dockerfile import ROOT, stage

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
# The services that run the image built from the Dockerfile.
IMAGE_SERVICES = {name: svc for name, svc in SERVICES.items() if "build" in svc}


class BadCommandLine(Exception):
    pass


def parse_ces(argv: list[str]):
    """Parse a `ces …` command line as the CLI would, without running it: its click context, or
    BadCommandLine for an unknown command or option."""
    if argv[:1] != ["ces"]:
        raise BadCommandLine(f"{argv}: the program is not ces")
    command, args = get_command(app), argv[1:]
    if not args or args[0] not in command.commands:
        raise BadCommandLine(f"{args[:1]} is not a ces command (in {argv})")
    while args and args[0] in (getattr(command, "commands", None) or {}):
        name, args = args[0], args[1:]
        command = command.commands[name]
    try:
        return command.make_context(name, list(args))
    except Exception as error:  # click's UsageError (Typer vendors click: no public class to name)
        if not hasattr(error, "format_message"):
            raise
        raise BadCommandLine(f"{argv}: {error.format_message()}") from error


def entrypoint() -> list[str]:
    return stage(None).exec_form("ENTRYPOINT")


def test_the_image_runs_ces_and_serves_by_default():
    assert entrypoint() == ["ces"]
    ctx = parse_ces(entrypoint() + stage(None).exec_form("CMD"))
    assert ctx.command.name == "serve" and ctx.params["host"] == "0.0.0.0"


@pytest.mark.parametrize("service", sorted(IMAGE_SERVICES))
def test_each_compose_command_is_a_ces_command_line(service):
    command = IMAGE_SERVICES[service]["command"]
    assert isinstance(command, list), "exec form: a list, as the image's ENTRYPOINT is"
    ctx = parse_ces(entrypoint() + command)
    assert ctx.command.name == {"app": "serve"}.get(service, service)


def test_the_command_check_catches_a_doubled_program_name():
    with pytest.raises(BadCommandLine, match="not a ces command"):
        parse_ces(entrypoint() + ["ces", "serve"])
    with pytest.raises(BadCommandLine, match="no-such-option"):
        parse_ces(entrypoint() + ["serve", "--no-such-option"])


def test_every_role_is_in_compose_and_the_schema_is_migrated_first():
    assert {"migrate", "app", "worker", "scheduler"} <= IMAGE_SERVICES.keys()
    for name in ("app", "worker", "scheduler"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_only_the_reverse_proxy_is_published_in_front_of_the_app():
    assert [name for name, svc in IMAGE_SERVICES.items() if svc.get("ports")] == []
    assert {"80:80", "443:443"} <= set(SERVICES["caddy"]["ports"])
    assert SERVICES["caddy"]["image"].split(":")[0] == "caddy"


def caddy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    caddyfile = caddyfile_path()
    # Caddy keeps state under XDG folders: keep it in the test's own folder.
    env = {"PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    return subprocess.run(["caddy", *args, "--adapter", "caddyfile", "--config", str(caddyfile)],
                          capture_output=True, text=True, env=env)


def caddyfile_path() -> Path:
    [mount] = [v for v in SERVICES["caddy"]["volumes"] if v.split(":")[1] == "/etc/caddy/Caddyfile"]
    return ROOT / mount.split(":")[0]


def test_the_caddyfile_is_valid(tmp_path):
    done = caddy(tmp_path, "validate")
    assert done.returncode == 0, done.stderr[-2000:]


def test_caddy_proxies_to_the_app_and_bounds_slow_and_large_requests(tmp_path):
    done = caddy(tmp_path, "adapt")
    assert done.returncode == 0, done.stderr[-2000:]
    [server] = json.loads(done.stdout)["apps"]["http"]["servers"].values()
    for timeout in ("read_header_timeout", "read_timeout", "idle_timeout"):
        assert server.get(timeout, 0) > 0, timeout
    handlers = [h for route in server["routes"] for sub in route["handle"] for r in sub["routes"]
                for h in r["handle"]]
    [body] = [h for h in handlers if h["handler"] == "request_body"]
    [proxy] = [h for h in handlers if h["handler"] == "reverse_proxy"]
    # Above the app's own limit, so that an oversized webhook still gets the app's JSON 413.
    assert body["max_size"] >= IntakeSettings().max_body_bytes
    app_port = SERVICES["app"]["command"][SERVICES["app"]["command"].index("--port") + 1]
    assert [u["dial"] for u in proxy["upstreams"]] == [f"app:{app_port}"]
