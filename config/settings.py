"""The whole configuration: defaults < TOML file named by CES_CONFIG < environment (CES_*, `__` nests)."""

from __future__ import annotations

import copy
import functools
import os
import tomllib
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, InitSettingsSource, SettingsConfigDict

from ces.config.models import (
    AdminSettings,
    AlertSettings,
    ApiSettings,
    ConnectorSettings,
    ConsoleSettings,
    DemoSettings,
    EffortSettings,
    HealthSettings,
    HttpSettings,
    IntakeSettings,
    ModelSettings,
    RetentionSettings,
    ServerSettings,
    SignalSettings,
    SmtpSettings,
    SurveySettings,
    WorkerSettings,
    check_database_url,
    check_http_url,
)
from ces.config.problems import ConfigError, Problem, describe, fields_at
from ces.connectors.registry import connector_class, known_kinds

# The file's contents as read (and, for `ces config check`, with the broken keys taken out).
_file_data: ContextVar[dict[str, Any] | None] = ContextVar("ces_config_file", default=None)


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
    model: ModelSettings = ModelSettings()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()
    intake: IntakeSettings = IntakeSettings()
    worker: WorkerSettings = WorkerSettings()
    http: HttpSettings = HttpSettings()
    server: ServerSettings = ServerSettings()
    demo: DemoSettings = DemoSettings()
    console: ConsoleSettings = ConsoleSettings()
    api: ApiSettings = ApiSettings()
    health: HealthSettings = HealthSettings()
    admin: AdminSettings = AdminSettings()
    # Each [[connectors]] table is validated by its own kind's model (see load_settings), so that
    # a problem is reported as connectors[i].key.
    raw_connectors: list[dict[str, Any]] = Field([], alias="connectors")
    _connectors: list[ConnectorSettings] = PrivateAttr(default_factory=list)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @property
    def connectors(self) -> list[ConnectorSettings]:
        return self._connectors

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=_file_data.get() or {})

    @property
    def console_url(self) -> str:
        """Where people open the console: [console] url, else public_url."""
        return self.console.url or self.public_url

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
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _locate(data: Any, loc: tuple) -> tuple:
    """The part of an error's location that is in the data: pydantic adds the members of a union
    ('str', 'list[str]') and names a missing key that the data does not have."""
    path, node = [], data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        path.append(part)
    return tuple(path)


def _absent(data: Any, loc: tuple) -> bool:
    """Whether an error is about a key the data lacks (missing, or set by the environment, like
    CES_SMTP__PORT), rather than about a value in it."""
    path = _locate(data, loc)
    node = data
    for part in path:
        node = node[part]
    return path != loc and isinstance(node, dict)


def _from_environment(loc: tuple) -> str | None:
    """The variable that set this key (CES_SMTP__PORT for smtp.port), if one did."""
    config = Settings.model_config
    name = (config["env_prefix"] + config["env_nested_delimiter"].join(str(p) for p in loc)).upper()
    return next((k for k in os.environ if k.upper() == name), None) if loc else None


def _problem(error: dict, source: str, data: Any, model: type[BaseModel], prefix: tuple = (),
             original: Callable[[tuple], tuple] = lambda loc: loc) -> Problem:
    loc = tuple(error["loc"])
    path = _locate(data, loc)
    named = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
    variable = None if prefix else _from_environment(named)  # it overrides the file's value, if any
    if error["type"] == "missing" or variable or _absent(data, loc):
        path = named
    if variable:  # not the file's doing: name what the admin has to change
        source = f"environment ({variable})"
    key = _key(prefix + original(path))
    message, fix = describe(error, key, fields_at(model, path) if path else None)
    return Problem(key=key, message=message, fix=fix, source=source)


T = TypeVar("T")


class _Pruner:
    """Takes out of the data what errors are about, so that the next pass checks the rest: a key
    is removed (its default applies), a list item too. Locations are told in the file's own
    numbering: `removed` remembers, per list, which of its original items are gone."""

    def __init__(self, data: Any):
        self.data = data
        self.removed: dict[tuple, list[int]] = {}
        self.pruned: list[tuple] = []  # in the file's numbering

    def original(self, loc: tuple) -> tuple:
        out: list = []
        for part in loc:
            if isinstance(part, int):
                for gone in sorted(self.removed.get(tuple(out), [])):
                    if gone <= part:
                        part += 1
            out.append(part)
        return tuple(out)

    def taken(self, loc: tuple) -> bool:
        orig = self.original(loc)
        return any(orig[:len(p)] == p for p in self.pruned)

    def prune(self, errors: list[dict]) -> bool:
        """A missing key takes its table with it; a key from the environment stays (nothing to
        take out of the file)."""
        locs = [tuple(e["loc"]) for e in errors if e["type"] == "missing" or not _absent(self.data, tuple(e["loc"]))]
        paths = sorted({p for p in (_locate(self.data, loc) for loc in locs) if p}, reverse=True)
        paths = [p for p in paths if not any(q != p and p[:len(q)] == q for q in paths)]
        originals = [self.original(p) for p in paths]
        for path, orig in zip(paths, originals):  # deepest and last first: earlier indices stay valid
            parent = self.data
            for part in path[:-1]:
                parent = parent[part]
            del parent[path[-1]]
            if isinstance(path[-1], int):
                self.removed.setdefault(orig[:-1], []).append(orig[-1])
        self.pruned += originals
        return bool(paths)


def _every_problem(validate: Callable[[Any], T], data: Any, model: type[BaseModel], source: str,
                   prefix: tuple = ()) -> tuple[T | None, list[Problem]]:
    """Validate; on errors, report them, take out what they are about and validate the rest again,
    so that the checks that run only on valid input (a route's completeness, a scale's labels) are
    reported in the same run instead of in waves."""
    pruner = _Pruner(copy.deepcopy(data))
    problems: list[Problem] = []
    for _ in range(20):
        try:
            return validate(pruner.data), problems
        except ValidationError as exc:
            errors = [e for e in exc.errors() if not pruner.taken(tuple(e["loc"]))]
            for error in errors:
                problem = _problem(error, source, pruner.data, model, prefix, pruner.original)
                if problem not in problems:
                    problems.append(problem)
            # Every error, reported or not: an item left incomplete by an earlier pass goes too.
            if not pruner.prune(exc.errors()):
                break
    return None, problems


def _read_file() -> tuple[dict[str, Any], list[Problem]]:
    path = os.environ.get("CES_CONFIG")
    if not path:
        return {}, []
    p = Path(path)
    if not p.is_file():
        return {}, [Problem("CES_CONFIG", f"{path} does not exist or is not a file",
                            "point CES_CONFIG at your TOML configuration", source="environment")]
    try:
        return tomllib.loads(p.read_text(encoding="utf-8")), []
    except tomllib.TOMLDecodeError as exc:
        return {}, [Problem("(syntax)", f"not valid TOML: {exc}", "fix the TOML syntax", source=path)]
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Problem("CES_CONFIG", f"cannot read {path}: {exc}", "make it a readable UTF-8 file",
                            source="environment")]


def _settings(data: dict[str, Any], overrides: dict[str, Any]) -> Settings:
    token = _file_data.set(data)
    try:
        return Settings(**overrides)
    finally:
        _file_data.reset(token)


def validate_connectors(raw: list[Any], source: str, *, every: bool = False, context: dict | None = None
                        ) -> tuple[list[tuple[int, ConnectorSettings]], list[Problem]]:
    """Each [[connectors]] table by its own kind's model; the valid ones with their index.
    `context`: pydantic's validation context (a stored connector's held secrets, config.secrets.HELD)."""
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
        validate = functools.partial(model.model_validate, context=context)
        if every:
            conn, found = _every_problem(validate, item, model, source, ("connectors", i))
        else:
            try:
                conn, found = validate(item), []
            except ValidationError as exc:
                conn, found = None, [_problem(e, source, item, model, ("connectors", i)) for e in exc.errors()]
        problems += found
        if conn is not None:
            valid.append((i, conn))
    return valid, problems


def _connector_surveys(settings: Settings, indexed: list[tuple[int, ConnectorSettings]],
                       source: str) -> list[Problem]:
    problems = []
    for i, conn in indexed:
        if conn.survey:
            try:
                settings.survey_for(conn.id)
            except ValidationError as exc:
                problems += [_problem(e, source, conn.survey, SurveySettings, ("connectors", i, "survey"))
                             for e in exc.errors()]
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Load and validate; raises ConfigError with one Problem per mistake."""
    source = config_source()
    data, problems = _read_file()
    if problems:
        raise ConfigError(problems)
    try:
        settings = _settings(data, overrides)
    except ValidationError as exc:
        problems = [_problem(e, source, data, Settings) for e in exc.errors()]
        raw = data.get("connectors")
        if isinstance(raw, list):  # report the connectors' own problems in the same pass
            problems += validate_connectors(raw, source)[1]
        raise ConfigError(problems) from None
    indexed, problems = validate_connectors(settings.raw_connectors, source)
    settings._connectors = [c for _, c in indexed]
    problems += _connector_surveys(settings, indexed, source)
    if problems:
        raise ConfigError(problems)
    return settings


def diagnose() -> tuple[Settings | None, list[Problem]]:
    """Every problem of the configuration in one run (`ces config check`): each section and each
    connector is checked whatever is wrong elsewhere, and the checks beyond the types (secrets
    set, ids unique, routes complete) run on everything that is valid. The settings returned are
    what is valid (defaults where a key was wrong), None if they could not be built."""
    source = config_source()
    data, problems = _read_file()
    if problems:
        return None, problems
    settings, problems = _every_problem(lambda d: _settings(d, {}), data, Settings, source)
    raw = (settings.raw_connectors if settings is not None else data.get("connectors")) or []
    indexed, found = validate_connectors(raw if isinstance(raw, list) else [], source, every=True)
    problems += found
    if settings is None:
        return None, problems
    settings._connectors = [c for _, c in indexed]
    problems += _connector_surveys(settings, indexed, source)
    problems += check_settings(settings, indexed)
    return settings, problems


def check_settings(settings: Settings, indexed: list[tuple[int, ConnectorSettings]] | None = None) -> list[Problem]:
    """Problems that validation alone cannot see: secrets that are not set, duplicate ids.
    `indexed`: the connectors with their place in the file (default: as loaded)."""
    source = config_source()
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, conn in indexed if indexed is not None else list(enumerate(settings.connectors)):
        if conn.id in seen:
            problems.append(Problem(f"connectors[{i}].id", f"duplicate connector id {conn.id!r}",
                                    "give every connector its own id", source))
        seen.add(conn.id)
        for key, message, fix in conn.secret_problems():
            problems.append(Problem(f"connectors[{i}].{key}", message, fix, source))
        cls = connector_class(conn.kind)
        if settings.survey_for(conn.id).delivery == "helpdesk" and "public_reply" not in cls.capabilities:
            problems.append(Problem(f"connectors[{i}].survey.delivery", f"{cls.title} cannot post public replies",
                                    'use delivery = "email" for this connector', source))
    for key, message, fix in settings.smtp.secret_problems():
        problems.append(Problem(f"smtp.{key}", message, fix, source))
    if settings.console.oidc is not None:
        problems += [Problem(f"console.oidc.{key}", message, fix, source)
                     for key, message, fix in settings.console.oidc.secret_problems()]
    for i, route in enumerate(settings.alerts.routes):
        problems += _route_problems(settings, i, route, source)
    for i, route in enumerate(settings.admin.routes):
        problems += _route_problems(settings, i, route, source, "admin.routes")
    return problems


def _route_problems(settings: Settings, i: int, route, source: str, section: str = "alerts.routes") -> list[Problem]:
    problems = [Problem(f"{section}[{i}].{key}", message, fix, source)
                for key, message, fix in route.secret_problems()]
    if route.has_secret("url"):
        try:
            values = route.secret_values("url")
        except Exception:
            values = []
        for value in values:
            try:
                check_http_url(value)
            except ValueError:
                problems.append(Problem(f"{section}[{i}].url_env", "the URL it holds is not an http(s) URL",
                                        "put the route's full https://… URL in it", source))
    for cid in route.connectors:
        if settings.connector(cid) is None:
            problems.append(Problem(f"alerts.routes[{i}].connectors", f"no connector {cid!r}",
                                    "use the id of a [[connectors]] table", source))
    return problems
