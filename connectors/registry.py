"""Connectors by kind, discovered through the `ces.connectors` entry points."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ces.connectors.base import Connector


@cache
def _classes() -> dict[str, type[Connector]]:
    found = {}
    for ep in entry_points(group="ces.connectors"):
        found[ep.name] = ep.load()
    return found


def known_kinds() -> list[str]:
    return sorted(_classes())


def connector_class(kind: object) -> type[Connector]:
    try:
        return _classes()[kind]  # type: ignore[index]
    except (KeyError, TypeError):
        raise LookupError(f"unknown connector kind {kind!r}; known: {', '.join(known_kinds())}") from None
