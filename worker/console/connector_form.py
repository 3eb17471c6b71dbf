"""The connector form of the console, made from the kind's own settings model: the keys a person
types (text, numbers, yes/no, a choice), and one password field per secret. Keys a form cannot
hold well (lists, tables, the per-connector [survey]) stay the TOML file's; the model's defaults
apply. Secret fields are never filled in: a stored secret shows as "set", and left blank it stays."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import FormData

from ces.connectors.registry import connector_class

# Keys the console sets itself (the kind, the flags) or that a form does not hold.
NOT_IN_FORM = {"kind", "enabled", "dry_run", "survey"}
SECRET_PREFIX = "secret:"
CLEAR_PREFIX = "clear:"
MAX_VALUE = 2000  # characters in one field: no setting needs more


@dataclass(frozen=True)
class FormField:
    name: str
    input: str  # "text", "number", "checkbox", "select"
    required: bool
    options: tuple[str, ...] = ()
    default: Any = None


def _input_of(annotation) -> tuple[str, tuple[str, ...]] | None:
    """How a key is typed, or None if a form does not hold it."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _input_of(args[0]) if len(args) == 1 else None
    if origin is Literal:
        return "select", tuple(str(a) for a in args)
    return {str: ("text", ()), int: ("number", ()), float: ("number", ()), bool: ("checkbox", ())}.get(annotation)


def fields_of(kind: str) -> list[FormField]:
    model = connector_class(kind).Settings
    out = []
    for name, info in model.model_fields.items():
        if name in NOT_IN_FORM or name.endswith(("_env", "_file")):
            continue
        typed = _input_of(info.annotation)
        if typed is not None:
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            out.append(FormField(name, typed[0], info.is_required(), typed[1], default))
    return out


def secret_names(kind: str) -> dict[str, bool]:
    """Each secret of the kind, and whether it is required."""
    return dict(connector_class(kind).Settings.secret_names)


def read(kind: str, form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings, secrets) as typed; a blank field is left out (the model's default, or kept)."""
    fields: dict[str, Any] = {}
    for f in fields_of(kind):
        if f.input == "checkbox":
            fields[f.name] = form.get(f.name) == "on"
            continue
        value = str(form.get(f.name) or "").strip()[:MAX_VALUE]
        if value:
            fields[f.name] = value
    secrets = {name: str(form.get(SECRET_PREFIX + name) or "").strip()[:MAX_VALUE] for name in secret_names(kind)}
    return fields, {k: v for k, v in secrets.items() if v}


def cleared(kind: str, form: FormData) -> set[str]:
    """The optional secrets the admin asked to remove (e.g. an API token, switching to OAuth)."""
    return {name for name, required in secret_names(kind).items() if not required and form.get(CLEAR_PREFIX + name) == "on"}


def values_of(settings) -> dict[str, Any]:
    """What an edit form shows: the stored keys (never a secret)."""
    return settings.model_dump(mode="json", exclude={"survey"}) if settings is not None else {}
