"""A configuration problem is one line naming where, what and how to fix it, in plain words."""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Problem:
    key: str
    message: str
    fix: str = ""
    source: str = "configuration"

    def __str__(self) -> str:
        line = f"{self.source}: {self.key}: {self.message}"
        return f"{line} (fix: {self.fix})" if self.fix else line


class ConfigError(Exception):
    """The configuration cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    def __str__(self) -> str:
        first = str(self.problems[0]) if self.problems else "invalid configuration"
        more = len(self.problems) - 1
        return f"{first} (and {more} more; run `ces config check`)" if more > 0 else first


# --- pydantic's errors in an admin's words --------------------------------------------------------
SECRET_LIKE = re.compile(r"pass(word|wd)?$|token|secret|api_?key|private_?key|credential", re.I)

# The patterns the models use, said as what to write.
PATTERN_WORDS = {
    r"^([01]\d|2[0-3]):[0-5]\d$": "must be a time like 21:00",
    r"^[a-z0-9][a-z0-9_-]{0,62}$": "may hold only lowercase letters, digits, - and _ (starting with a letter or "
                                   "digit, at most 63)",
    r"^\d+$": 'must be digits only, like "12345"',
    r"^\d+\.\d+$": 'must be a version like "2.11"',
    r"^[a-z0-9][a-z0-9-]*$": 'must be the lowercase name alone, like "acme" (not a URL)',
}

_TYPE_WORDS = {
    "string_type": "must be text in quotes",
    "int_parsing": "must be a whole number", "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number", "float_type": "must be a number",
    "bool_parsing": "must be true or false", "bool_type": "must be true or false",
    "list_type": 'must be a list, like ["a", "b"]',
    "dict_type": "must be a table ([section] or { key = value })",
    "model_type": "must be a table ([section] or { key = value })",
    "model_attributes_type": "must be a table ([section] or { key = value })",
    "string_too_short": "must not be empty",
}


def _bound(kind: str, ctx: dict) -> str | None:
    words = {"greater_than_equal": ("ge", "{} or more"), "greater_than": ("gt", "more than {}"),
             "less_than_equal": ("le", "{} or less"), "less_than": ("lt", "less than {}")}
    if kind not in words:
        return None
    name, template = words[kind]
    return "must be " + template.format(ctx.get(name))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(error: dict, key: str, fields: dict[str, Any] | None) -> tuple[str, str]:
    """(message, fix) for one pydantic error at `key`; `fields` are the model's own keys there
    (to suggest a spelling or the `_env` key of a secret), None if unknown."""
    kind, ctx = error["type"], error.get("ctx") or {}
    name = key.rpartition(".")[2].split("[")[0]
    if kind == "extra_forbidden":
        return _unknown_key(name, fields or {})
    if kind == "missing":
        return "is required", "add this key"
    if kind == "value_error":  # the models' own sentences say what to write
        return error["msg"].removeprefix("Value error, "), ""
    if name.endswith("_env") and kind in ("string_type", "list_type"):
        return ("must be the name of an environment variable, or a list of names during a rotation",
                'write it like name_env = "MY_VARIABLE"')
    if kind == "literal_error":
        message = f"must be one of {ctx.get('expected', '')}".replace("' or '", "', '")
    elif kind == "string_pattern_mismatch":
        message = PATTERN_WORDS.get(ctx.get("pattern", ""), "does not have the expected form")
    else:
        message = _bound(kind, ctx) or _TYPE_WORDS.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
    if "input" in error and not SECRET_LIKE.search(name):
        message += f", not {_shown(error['input'])}"
    return message, ""


def _unknown_key(name: str, fields: dict[str, Any]) -> tuple[str, str]:
    if SECRET_LIKE.search(name):
        own = [f for f in (f"{name}_env", f"{name}_file") if f in fields]
        if not own:
            own = difflib.get_close_matches(f"{name}_env", [f for f in fields if f.endswith("_env")], n=2)
        message = "a secret is never written in the configuration file"
        if own:
            env = own[0]
            stem = env.removesuffix("_env").removesuffix("_file")
            return message, (f'remove it; put the secret in an environment variable and write {stem}_env = '
                             f'"VARIABLE" (or {stem}_file = "/path/to/file")')
        return message, "remove it; secrets are named by `*_env`/`*_file` keys (README's configuration reference)"
    close = difflib.get_close_matches(name, list(fields), n=1)
    if close:
        return "unknown key", f"did you mean {close[0]}?"
    return "unknown key", "remove it, or check its spelling against README's configuration reference"


def fields_at(model: type[BaseModel], loc: tuple) -> dict[str, Any] | None:
    """The keys of the model that holds the last part of `loc` (None if it cannot be told)."""
    skip_next = False
    for part in loc[:-1]:
        if skip_next or isinstance(part, int):
            skip_next = False
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return None
        inner = _inner_model(field.annotation)
        if inner is None:
            return None
        model, skip_next = inner
    return {(f.alias or n): f for n, f in model.model_fields.items()}


def _inner_model(annotation) -> tuple[type[BaseModel], bool] | None:
    """The model inside an annotation (`X | None`, `list[X]`, `dict[str, X]`), and whether a
    key of a mapping comes first in an error's location."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found:
            return found[0], origin is dict or found[1]
    return None
