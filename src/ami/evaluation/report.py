"""The report folder of a run: training curves, planned-episode GIF, success bars, one HTML page.

Notable:
- Plots are drawn on `matplotlib.figure.Figure` objects directly, never through `pyplot`, so no
  global backend or figure registry is touched (safe in threads, servers and tests).
- Every file is written atomically: to a temporary file in the same folder, flushed, fsynced and
  renamed over the target, so a crash never leaves a half-written image or page.
- The GIF pauses after each episode by lengthening the last frame's duration rather than by
  repeating it: Pillow's GIF writer merges identical consecutive frames anyway, so the frame
  count of the file is exactly the number of recorded frames.
- The HTML page is self-contained (inline CSS, no JavaScript, images by relative file name) and
  every piece of text in it goes through `html.escape`.
"""

from __future__ import annotations

import html
import json
import math
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from PIL import Image, ImageDraw, ImageFont

from ami.errors import ConfigError, DatasetError, ShapeError
from ami.files import atomic_path

DPI = 110
PAUSE_MS = 1000  # how long the last frame of each episode stays on screen

# Column order and labels of the results table; other numeric keys follow in first-seen order.
_COLUMN_LABELS = {
    "success_rate": "agent success",
    "random_success_rate": "random-policy success",
    "episodes": "episodes",
    "budget": "step budget",
    "success_radius": "success radius",
    "plan_ms_per_call": "planning ms / call",
    "planning_seconds_per_episode": "planning s / episode",
}


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write a file by calling `write` on a temporary file in the same folder, then rename it."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)
    return Path(path)


def _save_figure(fig: Figure, out_png: Path) -> Path:
    return _write_atomic(out_png, lambda f: fig.savefig(f, format="png", dpi=DPI))


# --------------------------------------------------------------------------------------- metrics


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
    return _save_figure(fig, out_png)


# ------------------------------------------------------------------------------------------ GIF


@dataclass(frozen=True)
class EpisodeFrames:
    """What the GIF shows of one planned episode.

    Attributes:
        frames: The observations, `uint8 [T, h, w, 3]`.
        goal: The goal image, `uint8 [h, w, 3]`.
        success: Whether the episode reached its goal.
        title: A short caption, e.g. `"cross_room #3"`.
    """

    frames: np.ndarray
    goal: np.ndarray
    success: bool
    title: str

    def __post_init__(self) -> None:
        f, g = self.frames, self.goal
        if not isinstance(f, np.ndarray) or not isinstance(g, np.ndarray):
            raise ShapeError("EpisodeFrames.frames and .goal must be numpy arrays")
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[0] < 1 or f.shape[-1] != 3:
            raise ShapeError(
                f"EpisodeFrames.frames must be uint8 [T, h, w, 3], got {f.dtype} {list(f.shape)}"
            )
        if g.dtype != np.uint8 or g.shape != f.shape[1:]:
            raise ShapeError(
                f"EpisodeFrames.goal must be uint8 {list(f.shape[1:])}, got {g.dtype} "
                f"{list(g.shape)}"
            )


def _caption_height(font: Any) -> int:
    left, top, right, bottom = font.getbbox("Ag|")
    return int(bottom) + 6


def _gif_frame(
    frame: np.ndarray, goal: np.ndarray, caption: str, scale: int, font: Any
) -> Image.Image:
    """One GIF frame: a caption bar above the current frame (left) and the goal image (right)."""
    h, w, _ = frame.shape
    gap = max(2, scale)
    bar = _caption_height(font)
    canvas = Image.new("RGB", (2 * w * scale + gap, h * scale + bar), (24, 24, 24))
    size = (w * scale, h * scale)
    canvas.paste(Image.fromarray(frame).resize(size, Image.Resampling.NEAREST), (0, bar))
    canvas.paste(
        Image.fromarray(goal).resize(size, Image.Resampling.NEAREST), (w * scale + gap, bar)
    )
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 3), caption, fill=(235, 235, 235), font=font)
    draw.text((canvas.width - 4, 3), "goal", fill=(235, 235, 235), font=font, anchor="ra")
    return canvas


def write_episodes_gif(
    episodes: list[EpisodeFrames], out_gif: Path, scale: int = 4, fps: int = 10
) -> Path:
    """Write an animated GIF that plays the episodes one after another, each beside its goal.

    Every frame shows the observation at step `t` on the left and the goal image on the right,
    both upscaled by `scale` (nearest neighbour), under a caption `"<title>  step t/T"`; the last
    frame of an episode adds `success` or `failed` and stays on screen for `PAUSE_MS`.

    Args:
        episodes: The episodes, all with the same frame size; keep it to a few for a small file.
        out_gif: Where to write the GIF.
        scale: Integer upscaling factor of the images.
        fps: Playback speed in frames per second.

    Returns:
        `out_gif`.

    Raises:
        ConfigError: `scale` or `fps` is below 1.
        ShapeError: There are no episodes, or their frame sizes differ.
    """
    if scale < 1:
        raise ConfigError(f"scale must be >= 1, got {scale}")
    if fps < 1:
        raise ConfigError(f"fps must be >= 1, got {fps}")
    if not episodes:
        raise ShapeError("write_episodes_gif needs at least one episode, got none")
    sizes = {ep.frames.shape[1:] for ep in episodes}
    if len(sizes) > 1:
        raise ShapeError(f"all episodes must have the same frame size, got {sorted(sizes)}")
    font = ImageFont.load_default()
    step_ms = max(20, round(1000 / fps))  # GIF delays are in 10 ms units; browsers clamp < 20
    images, durations = [], []
    for ep in episodes:
        last = len(ep.frames) - 1
        for t, frame in enumerate(ep.frames):
            caption = f"{ep.title}  step {t}/{last}"
            if t == last:
                caption += "  " + ("success" if ep.success else "failed")
            images.append(_gif_frame(frame, ep.goal, caption, scale, font))
            durations.append(step_ms + (PAUSE_MS if t == last else 0))

    def write(f: IO[bytes]) -> None:
        images[0].save(
            f,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=durations,
            loop=0,
            optimize=True,
        )

    return _write_atomic(out_gif, write)


# ------------------------------------------------------------------------------------ results


def _protocols(results: dict) -> dict[str, dict]:
    protocols = results.get("protocols") if isinstance(results, dict) else None
    if not isinstance(protocols, dict) or not protocols:
        raise DatasetError("results have no 'protocols' mapping of protocol name to results")
    return protocols


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plot_success_bars(results: dict, out_png: Path) -> Path:
    """Bar chart of the success rate per protocol: the agent beside the random policy.

    Args:
        results: `{"protocols": {name: {"success_rate": float, "random_success_rate": float,
            "episodes": int, ...}}}`; a protocol without `random_success_rate` gets one bar.
        out_png: Where to write the PNG.

    Returns:
        `out_png`.

    Raises:
        DatasetError: `results` has no protocols, or a protocol has no `success_rate`.
    """
    protocols = _protocols(results)
    names = list(protocols)
    for name in names:
        if not _is_number(protocols[name].get("success_rate")):
            raise DatasetError(f"protocol {name!r} in results has no numeric 'success_rate'")
    x = np.arange(len(names))
    width = 0.38
    fig = Figure(figsize=(max(4.5, 1.6 * len(names) + 2), 4.2), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    has_random = [n for n in names if _is_number(protocols[n].get("random_success_rate"))]
    agent = [protocols[n]["success_rate"] for n in names]
    xa = [x[i] - width / 2 if n in has_random else x[i] for i, n in enumerate(names)]
    bars = ax.bar(xa, agent, width, label="agent (planning)", color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in agent], fontsize=9, padding=2)
    if has_random:
        xr = [x[names.index(n)] + width / 2 for n in has_random]
        rand = [protocols[n]["random_success_rate"] for n in has_random]
        bars = ax.bar(xr, rand, width, label="random policy", color="tab:gray")
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in rand], fontsize=9, padding=2)
    ticks = []
    for n in names:
        episodes = protocols[n].get("episodes")
        ticks.append(f"{n}\n(n={episodes})" if _is_number(episodes) else n)
    ax.set_xticks(x, ticks)
    ax.set_ylim(0, 1.12)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel("success rate")
    ax.set_title("Success rate per protocol")
    ax.legend(loc="upper right", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return _save_figure(fig, out_png)


# ----------------------------------------------------------------------------------------- HTML

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
    if _is_number(value):
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
    keys = [k for k in _COLUMN_LABELS if any(_is_number(p.get(k)) for p in protocols.values())]
    for p in protocols.values():
        keys += [k for k, v in p.items() if _is_number(v) and k not in keys]
    e = html.escape
    head = "".join(f"<th>{e(_label(k))}</th>" for k in keys)
    rows = []
    for name, p in protocols.items():
        cells = "".join(
            f'<td class="num">{e(_format(k, p[k])) if _is_number(p.get(k)) else "&mdash;"}</td>'
            for k in keys
        )
        rows.append(f"<tr><th>{e(name)}</th>{cells}</tr>")
    return f"<table><tr><th>protocol</th>{head}</tr>{''.join(rows)}</table>"


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
            every key of `run` (world, seed, training minutes, device, ...) a row of run facts.
        images: Caption to file name in `out_dir`, e.g. `{"Training curves": "curves.png"}`.

    Returns:
        The path of the page.

    Raises:
        DatasetError: `results` has no protocols, or an image file is not in `out_dir`.
        ConfigError: An image name is not a bare file name.
    """
    out_dir = Path(out_dir)
    protocols = _protocols(results)
    for caption, name in images.items():
        if Path(name).name != name or name in ("", ".", ".."):
            raise ConfigError(f"image {caption!r} must be a file name in {out_dir}, got {name!r}")
        if not (out_dir / name).is_file():
            raise DatasetError(f"image {caption!r} file {out_dir / name} does not exist")
    e = html.escape
    body = ["<h1>ami run report</h1>", "<h2>Results</h2>", _results_table(protocols)]
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
    return _write_atomic(out_dir / "report.html", lambda f: f.write(page.encode("utf-8")))
