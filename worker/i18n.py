"""Translations: gettext catalogs compiled with Babel, one per supported locale."""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

from babel.core import Locale, UnknownLocaleError, negotiate_locale

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ces"


def N_(message: str) -> str:
    """Marks a string for extraction; translated where it is shown."""
    return message


def available_locales() -> list[str]:
    return list(_installed_locales())


@cache
def _installed_locales() -> tuple[str, ...]:
    """The compiled catalogs, looked up once per process (not at every survey's negotiation)."""
    found = ["en"]
    if LOCALE_DIR.is_dir():
        found += sorted(p.name.replace("_", "-") for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file())
    return tuple(sorted(set(found), key=lambda x: (x != "en", x)))


def _canonical(tag: str) -> str:
    parts = tag.replace("_", "-").split("-")
    lang = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 and len(parts[1]) == 2 else None
    return f"{lang}-{region}" if region else lang


def negotiate(*candidates: str | None, also: tuple[str, ...] = ()) -> str:
    """The first candidate we have words for (a catalog, or an admin's wording in `also`): exact
    (pt-BR), then its language (pt), then that language's regional catalog (pt → pt-BR), else
    English. Babel's negotiate_locale matches (case-insensitively); a language alone finds its
    regional catalog through the aliases given to it."""
    have = {loc.lower(): loc for loc in available_locales()}
    have.update({_canonical(loc).lower(): _canonical(loc) for loc in also})
    regional: dict[str, str] = {}
    for key, loc in sorted(have.items()):
        if "-" in key:
            regional.setdefault(key.split("-")[0], loc)
    preferred = []
    for tag in candidates:
        if tag:
            canonical = _canonical(tag)
            preferred += [canonical, canonical.split("-")[0]]
    found = negotiate_locale(preferred, list(have.values()), sep="-", aliases=regional)
    return have[found.lower()] if found else "en"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog of a locale (English, the source language, where there is none)."""
    if locale == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[locale.replace("-", "_")],
                               fallback=True)


@cache
def direction(locale: str) -> str:
    """"rtl" or "ltr", as CLDR (through Babel) says of the locale's script."""
    try:
        return Locale.parse(locale, sep="-").text_direction
    except (ValueError, UnknownLocaleError):  # an admin's wording under a tag CLDR does not know
        return "ltr"
