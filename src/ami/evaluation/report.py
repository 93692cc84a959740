"""The one-page HTML report of a run: results table, run facts, protocols and images.

The page is self-contained (inline CSS, no JavaScript, images by relative file name) and every
piece of text in it goes through `html.escape`. Written atomically.
"""

from __future__ import annotations

import html
import json
import math
import urllib.parse
from pathlib import Path
from typing import Any

from ami.errors import ConfigError, DatasetError
from ami.evaluation.plots import is_number, protocols_of
from ami.files import atomic_write_with

# Column order and labels of the results table; other numeric keys follow in first-seen order.
_COLUMN_LABELS = {
    "success_rate": "agent success",
    "random_success_rate": "random-policy success",
    "zero_success_rate": "zero-action success",
    "episodes": "episodes",
    "budget": "step budget",
    "success_radius": "success radius",
    "plan_ms_per_call": "planning ms / call",
    "planning_seconds_per_episode": "planning s / episode",
}


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right;
     font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } img { max-width: 100%; } img[src$=".gif"] { image-rendering: pixelated; }
figcaption { color: #555; font-size: 0.9em; }
"""


def _format(key: str, value: Any) -> str:
    """A value as table text: percentages for `*_rate` keys, few digits for floats."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_number(value):
        if key.endswith("_rate"):
            return f"{100 * value:.1f}%"
        if isinstance(value, int):
            return f"{value:,}"
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _label(key: str) -> str:
    return _COLUMN_LABELS.get(key, key.replace("_", " "))


def _results_table(protocols: dict[str, dict]) -> str:
    keys = [k for k in _COLUMN_LABELS if any(is_number(p.get(k)) for p in protocols.values())]
    for p in protocols.values():
        keys += [k for k, v in p.items() if is_number(v) and k not in keys]
    e = html.escape
    head = "".join(f"<th>{e(_label(k))}</th>" for k in keys)
    rows = []
    for name, p in protocols.items():
        cells = "".join(
            f'<td class="num">{e(_format(k, p[k])) if is_number(p.get(k)) else "&mdash;"}</td>'
            for k in keys
        )
        rows.append(f"<tr><th>{e(name)}</th>{cells}</tr>")
    return f"<table><tr><th>protocol</th>{head}</tr>{''.join(rows)}</table>"


def _rows_table(rows: list[dict]) -> str:
    """Rows of plain values as a table, the keys of all rows as columns in first-seen order."""
    keys: list[str] = []
    for row in rows:
        keys += [str(k) for k in row if str(k) not in keys]
    e = html.escape
    head = "".join(f"<th>{e(_label(k))}</th>" for k in keys)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{e(_format(k, row[k]))}</td>'
            if is_number(row.get(k))
            else f"<td>{e(_format(k, row[k])) if row.get(k) is not None else '&mdash;'}</td>"
            for k in keys
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _facts_table(facts: dict) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(_label(str(k)))}</th><td>{e(_format(str(k), v))}</td></tr>"
        for k, v in facts.items()
    )
    return f"<table>{rows}</table>"


def _protocol_section(name: str, protocol: dict) -> str:
    e = html.escape
    parts = [f"<h3>{e(name)}</h3>"]
    if isinstance(protocol.get("description"), str):
        parts.append(f"<p>{e(protocol['description'])}</p>")
    other = {k: v for k, v in protocol.items() if k != "description" and isinstance(v, str)}
    if other:
        parts.append(_facts_table(other))
    return "".join(parts)


def write_html_report(out_dir: Path, results: dict, images: dict[str, str]) -> Path:
    """Write `out_dir/report.html`: results table, run facts, protocol descriptions, images.

    Args:
        out_dir: The report folder; the images must already be in it.
        results: `{"protocols": {name: {numeric keys..., "description": str}}, "run": {...}}`;
            every numeric key of a protocol becomes a column (`*_rate` keys as percentages),
            every key of `run` (world, seed, training minutes, device, ...) a row of run facts;
            an optional `factors` section `{"rows": [{...}], "note": str}` (test-time factors,
            `ami.evaluation.factor_eval`) becomes a table of its own.
        images: Caption to file name in `out_dir`, e.g. `{"Training curves": "curves.png"}`.

    Returns:
        The path of the page.

    Raises:
        DatasetError: `results` has no protocols, or an image file is not in `out_dir`.
        ConfigError: An image name is not a bare file name.
    """
    out_dir = Path(out_dir)
    protocols = protocols_of(results)
    for caption, name in images.items():
        if Path(name).name != name or name in ("", ".", ".."):
            raise ConfigError(f"image {caption!r} must be a file name in {out_dir}, got {name!r}")
        if not (out_dir / name).is_file():
            raise DatasetError(f"image {caption!r} file {out_dir / name} does not exist")
    e = html.escape
    body = ["<h1>ami run report</h1>", "<h2>Results</h2>", _results_table(protocols)]
    factors = results.get("factors")
    if isinstance(factors, dict) and isinstance(factors.get("rows"), list) and factors["rows"]:
        body += ["<h2>Test-time factors</h2>", f"<p>{e(str(factors.get('note', '')))}</p>"]
        body.append(_rows_table(factors["rows"]))
    run = results.get("run")
    if isinstance(run, dict) and run:
        body += ["<h2>Run</h2>", _facts_table(run)]
    body.append("<h2>Protocols</h2>")
    body += [_protocol_section(name, p) for name, p in protocols.items()]
    if images:
        body.append("<h2>Figures</h2>")
    for caption, name in images.items():
        src = e(urllib.parse.quote(name))
        body.append(
            f'<figure><img src="{src}" alt="{e(caption)}">'
            f"<figcaption>{e(caption)}</figcaption></figure>"
        )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>ami run report</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    return atomic_write_with(out_dir / "report.html", lambda f: f.write(page.encode("utf-8")))
