"""The whole configuration: defaults < TOML file named by CES_CONFIG < environment (CES_*, `__` nests)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

from ces.config.models import (
    AlertSettings,
    ConnectorSettings,
    DemoSettings,
    EffortSettings,
    HttpSettings,
    IntakeSettings,
    RetentionSettings,
    ServerSettings,
    SignalSettings,
    SmtpSettings,
    SurveySettings,
    WorkerSettings,
    check_http_url,
)
from ces.config.problems import ConfigError, Problem


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CES_", env_nested_delimiter="__", extra="forbid",
                                      populate_by_name=True)

    public_url: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite:///./ces.db"
    broker_url: str = "redis://localhost:6379/0"
    broker_prefix: str = ""
    queue: str = "ces"
    log_level: str = "INFO"
    smtp: SmtpSettings = SmtpSettings()
    survey: SurveySettings = SurveySettings()
    signals: SignalSettings = SignalSettings()
    effort: EffortSettings = EffortSettings()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()
    intake: IntakeSettings = IntakeSettings()
    worker: WorkerSettings = WorkerSettings()
    http: HttpSettings = HttpSettings()
    server: ServerSettings = ServerSettings()
    demo: DemoSettings = DemoSettings()
    # Each [[connectors]] table is validated by its own kind's model (see load_settings), so that
    # a problem is reported as connectors[i].key.
    raw_connectors: list[dict[str, Any]] = Field([], alias="connectors")
    _connectors: list[ConnectorSettings] = PrivateAttr(default_factory=list)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return check_http_url(value)

    @property
    def connectors(self) -> list[ConnectorSettings]:
        return self._connectors

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        sources = [init_settings, env_settings]
        path = os.environ.get("CES_CONFIG")
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)

    def connector(self, connector_id: str) -> ConnectorSettings | None:
        return next((c for c in self.connectors if c.id == connector_id), None)

    def survey_for(self, connector_id: str | None) -> SurveySettings:
        """The survey policy of one connector: [survey] with its own [connectors.survey] on top."""
        conn = self.connector(connector_id) if connector_id else None
        if conn is None or not conn.survey:
            return self.survey
        return SurveySettings.model_validate(self.survey.model_dump(exclude_unset=True) | conn.survey)


def config_source() -> str:
    return os.environ.get("CES_CONFIG") or "environment"


def _key(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before", "function-wrap") or str(part).startswith(
                ("function-", "tagged-union")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _fix(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "remove it, or check its spelling against README's configuration reference"
    if kind == "missing":
        return "add this key"
    return "see README's configuration reference"


def _problem(error: dict, source: str, prefix: tuple = ()) -> Problem:
    loc = prefix + tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return Problem(key=_key(loc), message=message, fix=_fix(error), source=source)


def validate_connectors(raw: list[Any], source: str) -> tuple[list[ConnectorSettings], list[Problem]]:
    from ces.connectors.registry import connector_class, known_kinds

    valid, problems = [], []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            problems.append(Problem(f"connectors[{i}]", "must be a table", "write it as [[connectors]]", source))
            continue
        kind = item.get("kind")
        try:
            model = connector_class(kind).Settings
        except LookupError:
            problems.append(Problem(f"connectors[{i}].kind", f"unknown connector kind {kind!r}",
                                    f"use one of: {', '.join(known_kinds())}", source))
            continue
        try:
            valid.append(model.model_validate(item))
        except ValidationError as exc:
            problems.extend(_problem(e, source, ("connectors", i)) for e in exc.errors())
    return valid, problems


def load_settings(**overrides: Any) -> Settings:
    """Load and validate; raises ConfigError with one Problem per mistake."""
    source = config_source()
    path = os.environ.get("CES_CONFIG")
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError([Problem("CES_CONFIG", f"{path} does not exist or is not a file",
                                       "point CES_CONFIG at your TOML configuration", source="environment")])
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([Problem("(syntax)", f"not valid TOML: {exc}", "fix the TOML syntax",
                                       source=path)]) from None
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = [_problem(e, source) for e in exc.errors()]
        raw = data.get("connectors")
        if isinstance(raw, list):  # report the connectors' own problems in the same pass
            problems += validate_connectors(raw, source)[1]
        raise ConfigError(problems) from None
    connectors, problems = validate_connectors(settings.raw_connectors, source)
    settings._connectors = connectors
    for i, conn in enumerate(connectors):
        if conn.survey:
            try:
                settings.survey_for(conn.id)
            except ValidationError as exc:
                problems.extend(_problem(e, source, ("connectors", i, "survey")) for e in exc.errors())
    if problems:
        raise ConfigError(problems)
    return settings


def check_settings(settings: Settings) -> list[Problem]:
    """Problems that validation alone cannot see: secrets that are not set, duplicate ids."""
    source = config_source()
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, conn in enumerate(settings.connectors):
        if conn.id in seen:
            problems.append(Problem(f"connectors[{i}].id", f"duplicate connector id {conn.id!r}",
                                    "give every connector its own id", source))
        seen.add(conn.id)
        for key, message, fix in conn.secret_problems():
            problems.append(Problem(f"connectors[{i}].{key}", message, fix, source))
        from ces.connectors.registry import connector_class

        cls = connector_class(conn.kind)
        if settings.survey_for(conn.id).delivery == "helpdesk" and "public_reply" not in cls.capabilities:
            problems.append(Problem(f"connectors[{i}].survey.delivery", f"{cls.title} cannot post public replies",
                                    'use delivery = "email" for this connector', source))
    for key, message, fix in settings.smtp.secret_problems():
        problems.append(Problem(f"smtp.{key}", message, fix, source))
    for i, route in enumerate(settings.alerts.routes):
        for key, message, fix in route.secret_problems():
            problems.append(Problem(f"alerts.routes[{i}].{key}", message, fix, source))
        for name in ("url",):
            if route.has_secret(name):
                try:
                    values = route.secret_values(name)
                except Exception:
                    continue
                from ces.config.models import check_http_url

                for value in values:
                    try:
                        check_http_url(value)
                    except ValueError:
                        problems.append(Problem(f"alerts.routes[{i}].{name}_env", "the URL it holds is not an "
                                                "http(s) URL", "put the route's full https://… URL in it", source))
        for cid in route.connectors:
            if settings.connector(cid) is None:
                problems.append(Problem(f"alerts.routes[{i}].connectors", f"no connector {cid!r}",
                                        "use the id of a [[connectors]] table", source))
    return problems
