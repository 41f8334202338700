"""The leaderboard's first page as HTML, written by the server into the study page, so that its
first rows paint with the page itself, before any script runs (the page's policy forbids inline
script, not server-written rows). Same cells, classes and number formats as ``static/web.js``,
which takes the rows over as they are. Every text and attribute is escaped here, once."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any
from urllib.parse import quote


def fmt(x: float) -> str:
    """A number as ``Plots.fmt`` writes it: 4 significant digits, exponent past 1e5 or under
    1e-3."""
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    a = abs(x)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        mantissa, exponent = f"{x:.2e}".split("e")
        return f"{mantissa}e{int(exponent):+d}"
    rounded = float(f"{x:.4g}")
    return str(int(rounded)) if rounded.is_integer() else repr(rounded)


def show(x: Any) -> str:
    """A cell's text, as ``show`` in web.js writes it."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int | float):
        return fmt(float(x))
    if isinstance(x, list | dict):
        return json.dumps(x, separators=(",", ":"))
    return str(x)


def seconds(s: float | None) -> str:
    """A duration, as ``seconds`` in web.js writes it."""
    if s is None:
        return ""
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{math.floor(s / 60)} min {math.floor(s % 60 + 0.5)} s"
    return f"{math.floor(s / 3600)} h {math.floor((s % 3600) / 60 + 0.5)} min"


def _td(text: str, css: str = "") -> str:
    return f'<td class="{escape(css)}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"


def _cell(column: dict[str, Any], row: dict[str, Any], base: str) -> str:
    key, label, kind = column["key"], column["label"], column["kind"]
    if key == "number":
        href = escape(f"{base}/trials/{row['number']}")
        return f'<td class="num"><a href="{href}">{escape(str(row["number"]))}</a></td>'
    if key == "state":
        return _td(row["state"], f"state {row['state']}")
    if key == "duration":
        return _td(seconds(row["duration"]), "num")
    if kind == "param":
        return _td(show(row["params"].get(label)), "param")
    if kind == "metric":
        return _td(show(row["metrics"].get(label)), "num")
    x = row.get(key)
    number = isinstance(x, int | float) and not isinstance(x, bool)
    return _td(show(x), "num" if number else "")


def head_html(columns: list[dict[str, Any]], sort: str, descending: bool) -> str:
    """The header cells (web.js binds their clicks)."""
    out = []
    for c in columns:
        css = ("sorted desc" if descending else "sorted asc") if c["key"] == sort else ""
        out.append(
            f'<th data-key="{escape(c["key"])}" title="{escape("sort by " + c["label"])}" '
            f'class="{css}">{escape(c["label"])}</th>'
        )
    return "".join(out)


def rows_html(study: str, page: dict[str, Any]) -> str:
    """The page's rows: one ``tr`` per trial, its cells in the columns' order."""
    base = f"/studies/{quote(study, safe='')}"
    out = []
    for r in page["rows"]:
        best = ' class="best"' if r["rank"] == 1 else ""
        cells = "".join(_cell(c, r, base) for c in page["columns"])
        out.append(f'<tr data-number="{int(r["number"])}"{best}>{cells}</tr>')
    return "".join(out)


def page_info(page: dict[str, Any]) -> str:
    """The pager's text (plain text: the template escapes it)."""
    total, trials, offset = page["total"], page["trials"], page["offset"]
    if not total:
        return f"no trial matches (of {trials})" if trials else "no trial yet"
    last = min(offset + page["limit"], total)
    filtered = f" (filtered from {trials})" if total != trials else ""
    return f"{offset + 1}-{last} of {total}{filtered}"
