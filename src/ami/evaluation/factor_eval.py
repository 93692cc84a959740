"""Robustness to what changes the look: success clean and under each test-time factor.

`evaluate_factors` runs each protocol once per factor (`ami.evaluation.factors`) on the
protocol's own episodes and seeds, the random and zero-action floors under the same factor;
`factor_rows` puts them beside the clean figures as the table factor x success (agent, random
floor, ratio to clean); `factor_frames` and `plot_factor_frames` show one start and goal frame as
the agent sees them under each factor; `write_factor_report` adds the table and the picture
(`factors.png`) to a report folder written by `ami.pipeline.run_eval`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ami.agent import Agent
from ami.evaluation.episode_specs import prepare_episodes
from ami.evaluation.eval_protocol import EvalProtocol
from ami.evaluation.factors import Factor
from ami.evaluation.plots import DPI, save_figure
from ami.evaluation.report import write_html_report
from ami.evaluation.runner import ProtocolResult, episode_world, evaluate, protocol_world_settings
from ami.files import atomic_write_bytes
from ami.worlds import make

PICTURE = "factors.png"
CLEAN = "clean"
NOTE = (
    "Each factor changes every frame the agent sees (observations and goal frame alike) during "
    "evaluation only, on the protocol's own episodes and seeds; the world's true state and "
    "success test are untouched. A size factor changes the world itself (physics included), so "
    "its episodes are drawn in the changed world with the same seeds. Random: the random policy "
    "under the same factor. Ratio: the agent's success over its clean success."
)
# The figures `ami.pipeline.run_eval` puts on the report page, by caption, where it wrote them.
_REPORT_FIGURES = {
    "Success rates": "success.png",
    "Planned episodes (left: agent, right: goal)": "episodes.gif",
    "Training curves": "training_curves.png",
}


def evaluate_factors(
    protocols: Sequence[EvalProtocol],
    agent: Agent,
    factors: Sequence[Factor],
    world_overrides: dict[str, Any] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, dict[str, ProtocolResult]]:
    """Each protocol under each factor: protocol name -> factor label -> its figures."""
    for protocol in protocols:  # refuse before any work
        for factor in factors:
            factor.check(protocol.world)
    return {
        protocol.name: {
            factor.label: evaluate(
                protocol,
                agent,
                progress=progress,
                world_overrides=world_overrides,
                workers=workers,
                factor=factor,
            )
            for factor in factors
        }
        for protocol in protocols
    }


def factor_rows(
    clean: dict[str, dict[str, Any]],
    factored: dict[str, dict[str, ProtocolResult]],
    factors: Sequence[Factor],
) -> list[dict[str, Any]]:
    """The table factor x success, a clean row first per protocol.

    Args:
        clean: protocol name -> its clean figures (`ProtocolResult.as_dict()`, as in
            `results.json`'s `protocols`).
        factored: `evaluate_factors`' results.
        factors: the factors, in table order.

    Returns:
        Rows `{"protocol", "factor", "success_rate", "random_success_rate", "ratio_to_clean",
        "episodes", "description"}`; the ratio is None where the clean success is 0.
    """
    described = {factor.label: factor.description for factor in factors}
    rows = []
    for name, results in factored.items():
        base = clean[name]["success_rate"]
        figures = [(CLEAN, clean[name], "no change")] + [
            (label, results[label].as_dict(), described[label]) for label in described
        ]
        for label, figure, description in figures:
            rows.append(
                {
                    "protocol": name,
                    "factor": label,
                    "success_rate": figure["success_rate"],
                    "random_success_rate": figure["random_success_rate"],
                    "ratio_to_clean": figure["success_rate"] / base if base > 0 else None,
                    "episodes": figure["episodes"],
                    "description": description,
                }
            )
    return rows


def factor_frames(
    protocol: EvalProtocol,
    factors: Sequence[Factor],
    world_overrides: dict[str, Any] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The first episode's start and goal frames `uint8 [h, w, 3]`, clean and as each factor shows.

    A frame factor changes the clean frames; a world factor's are its own world's.
    """
    clean = _first_frames(protocol, world_overrides, {})
    frames = {CLEAN: clean}
    for factor in factors:
        settings = protocol_world_settings(protocol, world_overrides)
        changes = factor.world_changes(protocol.world, settings)
        start, goal = _first_frames(protocol, world_overrides, changes) if changes else clean
        transform = factor.transform(protocol.world)
        frames[factor.label] = (transform(start), transform(goal))
    return frames


def _first_frames(
    protocol: EvalProtocol, world_overrides: dict[str, Any] | None, changes: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """The start and goal frames of `protocol`'s first episode in its world changed by `changes`."""
    one = replace(protocol, episodes=1)
    overrides = {**(world_overrides or {}), **changes}
    made = make(one.world, **protocol_world_settings(one, overrides))
    options = {k: v for k, v in overrides.items() if k != "size"}
    spec = prepare_episodes(one, made, options).specs[0]
    env = episode_world(made, one)
    obs, _ = env.reset(options=spec.options)
    goal = spec.goal_pixels
    if goal is None:
        goal = env.unwrapped.goal_pixels()  # type: ignore[attr-defined]
    env.close()
    return obs["pixels"], goal


def plot_factor_frames(
    frames: dict[str, tuple[np.ndarray, np.ndarray]], out_png: Path, title: str = ""
) -> Path:
    """A grid: one column per factor (clean first), the start frame above the goal frame."""
    columns = len(frames)
    fig = Figure(figsize=(1.6 * columns + 0.6, 3.6), dpi=DPI, layout="constrained")
    axes = fig.subplots(2, columns, squeeze=False)
    for column, (label, pair) in enumerate(frames.items()):
        for row, frame in enumerate(pair):
            ax = axes[row][column]
            ax.imshow(frame, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(label, fontsize=9)
        if column == 0:
            axes[0][0].set_ylabel("start", fontsize=9)
            axes[1][0].set_ylabel("goal", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_png)


def write_factor_report(
    out_dir: Path,
    document: dict[str, Any],
    rows: list[dict[str, Any]],
    frames: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, Any]:
    """Add the factor table and `factors.png` to a report folder; the updated document.

    `document` is the folder's `results.json` (from `run_eval`); it gains `factors` (the rows,
    the note and the picture's name) and is rewritten, and `report.html` with it.
    """
    world = document["protocol"]["world"]
    plot_factor_frames(frames, out_dir / PICTURE, f"{world}: what the agent sees")
    updated = {**document, "factors": {"rows": rows, "note": NOTE, "picture": PICTURE}}
    atomic_write_bytes(out_dir / "results.json", json.dumps(updated, indent=2).encode())
    images = {
        caption: name for caption, name in _REPORT_FIGURES.items() if (out_dir / name).is_file()
    }
    images["Test-time factors: the first episode's start and goal as the agent sees them"] = PICTURE
    write_html_report(out_dir, updated, images)
    return updated
