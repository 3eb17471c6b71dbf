"""Secrets are never written in the TOML: a key `<name>_env` names an environment variable
(or a list of them, for rotation) and `<name>_file` names a file that holds the value. A connector
stored in the database (the console's) has a third source: its values decrypted from its row and
held in memory (Held), never serialised, logged or rendered."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

EnvRef = str | list[str] | None
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MissingSecret(Exception):
    def __init__(self, key: str, message: str, fix: str):
        self.key, self.message, self.fix = key, message, fix
        super().__init__(f"{key}: {message}")


HELD = "held_secrets"  # the validation context key that carries a Held


@dataclass(frozen=True, repr=False)
class Held:
    """A stored connector's secrets, decrypted: each name with its values (the first is current;
    during a webhook secret's grace period the previous one follows). `problem` says why they could
    not be read (the key changed): then every secret is configured but unusable, with that cause."""

    values: dict[str, list[str]]
    problem: str | None = None
    names: frozenset[str] = frozenset()  # with a problem: the secrets it has (their values unreadable)

    def __repr__(self) -> str:  # never the values
        return f"Held({sorted(self.values)}, problem={self.problem!r})"

    def has(self, name: str) -> bool:
        return name in self.names if self.problem is not None else bool(self.values.get(name))


@dataclass(frozen=True)
class SecretRef:
    """Where one secret comes from: the `<name>_env` and `<name>_file` keys of a settings model."""

    name: str
    env: EnvRef = None  # a variable's name, or several while the secret is rotated
    file: str | None = None
    held: bool = False  # held in memory (a connector stored in the database)

    def __bool__(self) -> bool:
        return bool(self.env or self.file or self.held)

    @property
    def variables(self) -> list[str]:
        return [self.env] if isinstance(self.env, str) else list(self.env or [])

    def variable(self, default: str) -> str:
        """The (first) variable's name, or `default`: what setup text tells an admin to export."""
        return (self.variables or [default])[0]


class SecretsModel(BaseModel):
    """Base of every config model that holds secrets.

    `secret_names` maps each secret's name to whether it is required; its `_env` and `_file` keys
    follow from it.
    """

    model_config = ConfigDict(extra="forbid")
    secret_names: ClassVar[dict[str, bool]] = {}
    _held: Held | None = PrivateAttr(None)

    def model_post_init(self, context: Any) -> None:
        """Validated with `context={HELD: Held(...)}` (a stored connector): its secrets come from
        there. Runs before the model's validators, so that they see them too."""
        held = context.get(HELD) if isinstance(context, dict) else None
        if held is not None:
            self._held = held

    @property
    def held(self) -> Held | None:
        return self._held

    def __init_subclass__(cls, **kwargs):
        """Each name in `secret_names` is a pair of keys, `<name>_env` and `<name>_file`: declared
        here (before pydantic reads the fields), unless the class declares one itself."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__annotations__")
        if own is None:
            own = cls.__annotations__ = {}
        for name in cls.__dict__.get("secret_names", {}):
            for key, kind in ((f"{name}_env", EnvRef), (f"{name}_file", str | None)):
                if key not in own:
                    own[key] = kind
                    setattr(cls, key, None)

    @model_validator(mode="after")
    def _one_source_per_secret(self):
        for name, required in self.secret_names.items():
            ref = self.secret_ref(name)
            if ref.env and ref.file:
                raise ValueError(f"set either {name}_env or {name}_file, not both")
            if required and not ref and not self._secret_optional(name):
                if self._held is not None:
                    raise ValueError(f"missing {name}")
                raise ValueError(
                    f"missing {name}_env (name of the environment variable that holds it) or {name}_file"
                )
        return self

    def _secret_optional(self, name: str) -> bool:
        """Subclasses relax a requirement when an alternative is configured (e.g. OAuth instead of a token)."""
        return False

    def secret_ref(self, name: str) -> SecretRef:
        return SecretRef(name, getattr(self, f"{name}_env", None), getattr(self, f"{name}_file", None),
                         held=self._held is not None and self._held.has(name))

    def has_secret(self, name: str) -> bool:
        return bool(self.secret_ref(name))

    def secret_values(self, name: str) -> list[str]:
        """Every configured value of a secret (several during a rotation); raises MissingSecret."""
        ref = self.secret_ref(name)
        if ref.held:
            return self._held_values(name)
        file = ref.file
        if file:
            path = Path(file)
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise MissingSecret(f"{name}_file", f"cannot read {file}: {exc.strerror}",
                                    "point it at a readable file that holds the secret") from None
            if not value:
                raise MissingSecret(f"{name}_file", f"{file} is empty", "write the secret into the file")
            return [value]
        values = []
        for var in ref.variables:
            if not _VARIABLE.match(var):  # never repeated: it may be the secret itself
                raise MissingSecret(f"{name}_env", "is not the name of an environment variable",
                                    f"put the secret in an environment variable and write its name here, "
                                    f'like {name}_env = "MY_{name.upper()}"')
            value = os.environ.get(var, "")
            if not value:
                raise MissingSecret(f"{name}_env", f"environment variable {var} is not set",
                                    f"export {var}=... before starting, or use {name}_file")
            values.append(value)
        return values

    def _held_values(self, name: str) -> list[str]:
        if self._held.problem:
            raise MissingSecret(name, self._held.problem,
                                "put the earlier key back in CES_SECRET_KEY, or enter the secrets again "
                                "in the console (README, \"Connectors in the console\")")
        return list(self._held.values[name])

    def secret(self, name: str) -> str | None:
        """The current value of a secret (the first during a rotation), or None if not configured."""
        values = self.secret_values(name)
        return values[0] if values else None

    def secret_problems(self) -> list[tuple[str, str, str]]:
        problems = []
        for name in self.secret_names:
            try:
                self.secret_values(name)
            except MissingSecret as exc:
                problems.append((exc.key, exc.message, exc.fix))
        return problems
