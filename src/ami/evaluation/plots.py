"""Plots of a run: training curves from the metrics log, success rates per protocol.

Plots are drawn on `matplotlib.figure.Figure` objects directly, never through `pyplot`, so no
global backend or figure registry is touched (safe in threads, servers and tests). Files are
written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ami.errors import DatasetError
from ami.files import atomic_write_with

DPI = 110


def save_figure(fig: Figure, out_png: Path) -> Path:
    """Write `fig` as a PNG atomically."""
    return atomic_write_with(out_png, lambda f: fig.savefig(f, format="png", dpi=DPI))


def protocols_of(results: dict) -> dict[str, dict]:
    """The `protocols` mapping of a results document (name -> figures)."""
    protocols = results.get("protocols") if isinstance(results, dict) else None
    if not isinstance(protocols, dict) or not protocols:
        raise DatasetError("results have no 'protocols' mapping of protocol name to results")
    return protocols


def is_number(value: Any) -> bool:
    """True for ints and floats, not for bools."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_metrics(path: Path) -> list[dict]:
    """Read a JSONL metrics log: one JSON object per line.

    A last line without a newline that is not valid JSON is the mark of a writer that crashed
    mid-line and is skipped; a bad line anywhere else is corruption.

    Args:
        path: The `.jsonl` file written by the training loop.

    Returns:
        The records in file order, e.g. `{"step": 100, "loss": 0.42, "lr": 3e-4, ...}`.

    Raises:
        DatasetError: The file is missing, or a line before the last is not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"metrics file {path} does not exist")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")  # a complete file ends with "\n", so the last piece is ""
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # no newline after it: a partial write
                break
            raise DatasetError(f"metrics file {path} line {number} is not JSON") from None
        if not isinstance(record, dict):
            raise DatasetError(f"metrics file {path} line {number} is not a JSON object")
        records.append(record)
    return records


def _series(metrics: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of the records that have a numeric `key` (and a `step`)."""
    pairs = [
        (m["step"], m[key])
        for m in metrics
        if "step" in m and isinstance(m.get(key), (int, float)) and not isinstance(m[key], bool)
    ]
    table = np.asarray(pairs, dtype=float).reshape(len(pairs), 2)
    return table[:, 0], table[:, 1]


def plot_training_curves(metrics: list[dict], out_png: Path) -> Path:
    """Plot losses, the SIGReg term and the learning rate against the training step.

    Three stacked panels sharing the step axis: total and prediction loss (log scale when all
    positive) with validation prediction loss as points, the SIGReg term, and the learning rate.
    Series missing from the records are left out of their panel.

    Args:
        metrics: Records from `read_metrics`.
        out_png: Where to write the PNG.

    Returns:
        `out_png`.

    Raises:
        DatasetError: No record has a `step` and a `loss`.
    """
    steps, loss = _series(metrics, "loss")
    if len(steps) == 0:
        raise DatasetError("no metrics records with 'step' and 'loss' to plot")
    fig = Figure(figsize=(8, 7.5), dpi=DPI, layout="constrained")
    ax_loss, ax_reg, ax_lr = fig.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 1.2]}
    )
    ax_loss.plot(steps, loss, label="total loss", color="tab:blue", lw=1.2)
    x, y = _series(metrics, "pred_loss")
    ax_loss.plot(x, y, label="prediction loss", color="tab:orange", lw=1.2)
    x, y = _series(metrics, "valid_pred_loss")
    ax_loss.plot(x, y, "o", label="validation prediction loss", color="tab:red", ms=5)
    plotted = np.concatenate([line.get_ydata() for line in ax_loss.get_lines()])
    finite = plotted[np.isfinite(plotted)]
    if len(finite) and (finite > 0).all():
        ax_loss.set_yscale("log")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right", fontsize=9)

    x, y = _series(metrics, "sigreg")
    ax_reg.plot(x, y, color="tab:green", lw=1.2)
    ax_reg.set_ylabel("SIGReg term")

    x, y = _series(metrics, "lr")
    ax_lr.plot(x, y, color="tab:purple", lw=1.2)
    ax_lr.set_ylabel("learning rate")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    ax_lr.set_xlabel("training step")
    for ax in (ax_loss, ax_reg, ax_lr):
        ax.grid(alpha=0.3)

    title = f"Training curves ({int(steps[-1])} steps"
    _, fps = _series(metrics, "frames_per_second")
    if len(fps):
        title += f", median {np.median(fps):,.0f} frames/s"
    fig.suptitle(title + ")")
    return save_figure(fig, out_png)


def plot_success_bars(results: dict, out_png: Path) -> Path:
    """Bar chart of the success rate per protocol: the agent beside the random and zero floors.

    Args:
        results: `{"protocols": {name: {"success_rate": float, "random_success_rate": float,
            "zero_success_rate": float, "episodes": int, ...}}}`; a floor a protocol lacks is
            left out.
        out_png: Where to write the PNG.

    Returns:
        `out_png`.

    Raises:
        DatasetError: `results` has no protocols, or a protocol has no `success_rate`.
    """
    protocols = protocols_of(results)
    names = list(protocols)
    for name in names:
        if not is_number(protocols[name].get("success_rate")):
            raise DatasetError(f"protocol {name!r} in results has no numeric 'success_rate'")
    series = [
        (key, label, color)
        for key, label, color in (
            ("success_rate", "agent (planning)", "tab:blue"),
            ("random_success_rate", "random policy", "tab:gray"),
            ("zero_success_rate", "zero action", "silver"),
        )
        if any(_finite(protocols[n].get(key)) for n in names)
    ]
    x = np.arange(len(names))
    width = 0.8 / len(series)
    fig = Figure(figsize=(max(4.5, 1.6 * len(names) + 2), 4.2), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    for index, (key, label, color) in enumerate(series):
        shown = [n for n in names if _finite(protocols[n].get(key))]
        offset = (index - (len(series) - 1) / 2) * width
        values = [protocols[n][key] for n in shown]
        bars = ax.bar(
            [x[names.index(n)] + offset for n in shown], values, width, label=label, color=color
        )
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=9, padding=2)
    ticks = []
    for n in names:
        episodes = protocols[n].get("episodes")
        ticks.append(f"{n}\n(n={episodes})" if is_number(episodes) else n)
    ax.set_xticks(x, ticks)
    ax.set_ylim(0, 1.12)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel("success rate")
    ax.set_title("Success rate per protocol")
    ax.legend(loc="upper right", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, out_png)


def _finite(value: Any) -> bool:
    """A number that is not NaN or infinite."""
    return is_number(value) and bool(np.isfinite(value))
