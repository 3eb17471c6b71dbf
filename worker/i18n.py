"""Translations: gettext catalogs compiled with Babel, one per supported locale."""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ces"
RTL = frozenset({"ar", "he", "fa", "ur"})


def N_(message: str) -> str:
    """Marks a string for extraction; translated where it is shown."""
    return message


def available_locales() -> list[str]:
    found = ["en"]
    if LOCALE_DIR.is_dir():
        found += sorted(p.name.replace("_", "-") for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file())
    return sorted(set(found), key=lambda x: (x != "en", x))


def _canonical(tag: str) -> str:
    parts = tag.replace("_", "-").split("-")
    lang = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 and len(parts[1]) == 2 else None
    return f"{lang}-{region}" if region else lang


def negotiate(*candidates: str | None, also: tuple[str, ...] = ()) -> str:
    """The first candidate we have words for (a catalog, or an admin's wording in `also`): exact
    (pt-BR), then its language (pt), else English."""
    have = {loc.lower(): loc for loc in available_locales()}
    have.update({_canonical(loc).lower(): _canonical(loc) for loc in also})
    for tag in candidates:
        if not tag:
            continue
        canonical = _canonical(tag)
        if canonical.lower() in have:
            return have[canonical.lower()]
        lang = canonical.split("-")[0]
        if lang in have:
            return have[lang]
        regional = sorted(loc for key, loc in have.items() if key.startswith(lang + "-"))
        if regional:
            return regional[0]
    return "en"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The catalog of a locale (English, the source language, where there is none)."""
    if locale == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[locale.replace("-", "_")],
                               fallback=True)


def direction(locale: str) -> str:
    return "rtl" if locale.split("-")[0] in RTL else "ltr"
