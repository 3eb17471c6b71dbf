"""Every listing prints as a table (people), JSON or CSV (scripts)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float) and column in ("response_rate", "ces", "share", "high_effort_share"):
        return f"{value * 100:.1f}%"
    if isinstance(value, float) and column in ("cost", "cost_low", "cost_high"):
        return f"{value * 100:.1f}"  # CES points, as the console's Drivers page shows them
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    if not rows:
        return "(nothing to show)"
    cells = [[_cell(r.get(c), c) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def to_csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else _cell(row.get(c), "") if isinstance(row.get(c), list)
                         else _plain(row.get(c)) for c in columns})
    return out.getvalue().rstrip("\n")


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=_plain, ensure_ascii=False, indent=2)


def render(rows: Sequence[dict], columns: Sequence[str], fmt: str, *, json_obj: Any = None) -> str:
    if fmt == "json":
        return to_json(json_obj if json_obj is not None else [{c: r.get(c) for c in columns} for r in rows])
    if fmt == "csv":
        return to_csv(rows, columns)
    return table(rows, columns)
