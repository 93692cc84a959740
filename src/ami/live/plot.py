"""The live curve: success rate against environment steps lived, one line per run."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ami.evaluation.plots import save_figure


def plot_live_curves(
    curves: dict[str, tuple[list[int], list[float]]],
    out_png: Path,
    reference: float | None = None,
    title: str = "Learning from interaction",
) -> Path:
    """Plot `label -> (env_steps, success_rate)`, with the offline full-data model as a line."""
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot()
    for label, (steps, success) in curves.items():
        ax.plot(steps, [100 * s for s in success], marker="o", label=label)
    if reference is not None:
        ax.axhline(100 * reference, color="grey", linestyle="--", label="offline, full data")
    ax.set_xlabel("environment steps (seed data + lived)")
    ax.set_ylabel("success")
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return save_figure(fig, out_png)
