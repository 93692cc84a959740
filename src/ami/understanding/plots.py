"""Figures of the understanding reports: probe scatter plots and surprise over time.

Drawn on `matplotlib.figure.Figure` objects (no pyplot state), written atomically.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ami.evaluation.plots import save_figure
from ami.understanding.probe_run import HEADLINE_PROBE, QuantityResult
from ami.understanding.surprise_run import WINDOW, SurpriseReport

MAX_POINTS = 2000  # points per scatter plot (a seeded subsample), to keep the PNGs small


def plot_probe_scatter(result: QuantityResult, out_png: Path, title: str = "") -> Path:
    """True vs predicted on held-out episodes: trained encoder and the random floor."""
    fig = Figure(figsize=(4.2, 4.0))
    ax = fig.add_subplot()
    pick = np.random.default_rng(0).permutation(result.truth.size)[:MAX_POINTS]
    truth = result.truth[pick]
    trained = result.scores["trained"][HEADLINE_PROBE]
    floor = result.scores["random"][HEADLINE_PROBE]
    ax.scatter(
        truth,
        result.predicted["random"][pick],
        s=3,
        alpha=0.3,
        color="tab:gray",
        label=f"random encoder (r = {floor['r']:.3f})",
    )
    ax.scatter(
        truth,
        result.predicted[HEADLINE_PROBE][pick],
        s=3,
        alpha=0.4,
        color="tab:blue",
        label=f"trained encoder (r = {trained['r']:.3f})",
    )
    low, high = float(truth.min()), float(truth.max())
    ax.plot([low, high], [low, high], color="black", linewidth=0.8)
    ax.set_xlabel(f"true {result.quantity} ({result.unit})")
    ax.set_ylabel(f"{HEADLINE_PROBE} probe's {result.quantity}")
    ax.set_title(title or result.quantity, fontsize=10)
    ax.legend(loc="upper left", fontsize=7, markerscale=3)
    fig.tight_layout()
    return save_figure(fig, out_png)


def plot_surprise(report: SurpriseReport, out_png: Path, events: Sequence[str] = ()) -> Path:
    """Surprise over time around the event: median and 10-90 % band, event vs twin, per event."""
    names = list(events) or list(report.results)
    fig = Figure(figsize=(3.0 * len(names), 3.0))
    axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
    before, after = WINDOW
    steps = np.arange(-before, after + 1)
    for ax, name in zip(axes, names, strict=True):
        result = report.results[name]
        for series, colour, label in (
            (result.aligned_twin, "tab:gray", "twin (no event)"),
            (result.aligned_event, "tab:red", name),
        ):
            if len(series) == 0:
                continue
            with warnings.catch_warnings():  # steps no episode reaches are all NaN: left blank
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high = np.nanquantile(series, [0.1, 0.9], axis=0)
                middle = np.nanmedian(series, axis=0)
            ax.fill_between(steps, low, high, color=colour, alpha=0.2, linewidth=0)
            ax.plot(steps, middle, color=colour, label=label)
        ax.axvline(0, color="black", linestyle=":", linewidth=1)
        ax.axhline(
            report.threshold,
            color="tab:orange",
            linestyle="--",
            linewidth=1,
            label=f"monitor threshold ({100 * report.config.false_alarm_rate:g} % false alarms)",
        )
        figures = result.figures(report.threshold, report.config.false_alarm_rate)
        auc = f"AUROC {figures['auroc']:.2f}" if "auroc" in figures else "no pairs"
        ax.set_title(f"{name}: {auc}", fontsize=9)
        ax.set_xlabel("env steps from the event")
        ax.legend(loc="upper left", fontsize=6)
    axes[0].set_ylabel("surprise ||predicted z - observed z||")
    fig.suptitle(f"{report.config.world}: surprise at impossible events and controls", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_png)
