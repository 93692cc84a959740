"""Test-time factors of variation: named, seeded changes of what the agent sees, at evaluation only.

A `Factor` is parsed from `NAME:VALUE` (or `NAME:VALUE@SEED`), e.g. `hue:120`, `agent_hue:60`,
`brightness:0.6`, `shift:3`, `distractors:4@7`, `size:+20`; `KINDS` lists the names, what each
does and its range. Two sorts:

- frame factors change every frame the agent sees, observations and the goal frame alike, through
  `FactoredAgent` (the agent's eyes: `begin(goal)` and `act(pixels)` see the transformed frames).
  The world is not touched, so its true state, its success test, the recorded frames and the
  random floor's actions are the clean run's. Each is a fixed function of the frame (the seed
  fixes the shift's direction and the distractors), so a goal frame and an observation of the
  same scene are changed alike. Factors of one part (`agent_hue`, `object_hue`,
  `background_hue`, `distractors`) find the part by colour (`ami.evaluation.factor_parts`) and
  exist on the worlds with a known palette (TwoRoom, PushT).
- world factors (`size`) change the world's config (TwoRoom's `agent_radius`: its only body, the
  agent, is the object it moves) and so its physics as well as its look; the episodes are then
  drawn in the changed world with the protocol's seeds. A world without such a field is refused.

Nothing here is used by collection or training: `ami.evaluation.runner.evaluate(..., factor=)`
is the one place a factor is applied.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ami.agent import Agent
from ami.errors import ConfigError
from ami.evaluation.factor_parts import (
    Distractors,
    distractors,
    paint_background,
    palette_of,
    recolour,
    tinted,
)
from ami.training.colour_shift import hue_rotation
from ami.worlds import make


@dataclass(frozen=True)
class FactorKind:
    """One named factor: what it does, its value range, and what it needs of the world."""

    what: str  # for people; VALUE stands for the factor's value
    low: float
    high: float
    integer: bool = False
    identity: float | None = None  # the value that changes nothing (refused)
    part: str | None = None  # the part it changes, found by colour
    world_level: bool = False  # changes the world's config, not the frame


KINDS: dict[str, FactorKind] = {
    "hue": FactorKind(
        "the hue of the whole frame turned by VALUE degrees about the grey axis (greys "
        "unchanged; the rotation of the training's colour shift)",
        -359,
        359,
        identity=0,
    ),
    "agent_hue": FactorKind(
        "the agent's hue turned by VALUE degrees", -359, 359, identity=0, part="agent"
    ),
    "object_hue": FactorKind(
        "the object's hue turned by VALUE degrees", -359, 359, identity=0, part="object"
    ),
    "background_hue": FactorKind(
        "floor and walls tinted 30% towards the saturated colour of hue VALUE degrees",
        0,
        359,
        part="background",
    ),
    "brightness": FactorKind("every channel times VALUE (lighting)", 0.1, 3.0, identity=1),
    "contrast": FactorKind(
        "every channel's distance from mid-grey times VALUE", 0.1, 3.0, identity=1
    ),
    "shift": FactorKind(
        "the camera moved by VALUE pixels in a seeded direction (edges repeated)",
        1,
        16,
        integer=True,
    ),
    "zoom": FactorKind("the camera zoomed by VALUE about the frame's centre", 0.5, 2.0, identity=1),
    "distractors": FactorKind(
        "VALUE seeded discs and squares painted into the background",
        1,
        20,
        integer=True,
        part="background",
    ),
    "size": FactorKind(
        "the world's body (TwoRoom's agent) resized by VALUE percent, physics included",
        -50,
        100,
        identity=0,
        world_level=True,
    ),
}
# The config field that sizes the body a `size` factor changes, per world.
SIZE_FIELDS = {"two_room": "agent_radius", "maze": "agent_radius"}
_TEXT = re.compile(r"([a-z_]+):([-+]?[0-9]*\.?[0-9]+)(?:@([0-9]+))?")


@dataclass(frozen=True)
class Factor:
    """One test-time factor: a `KINDS` name, its value and the seed of its random parts.

    Attributes:
        name: a key of `KINDS`.
        value: its parameter (degrees, a gain, pixels, a count or a percentage).
        seed: seeds the shift's direction and the distractors (others ignore it).
    """

    name: str
    value: float
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in KINDS:
            raise ConfigError(f"unknown factor {self.name!r}; known: {', '.join(KINDS)}")
        kind = KINDS[self.name]
        value = self.value
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise ConfigError(f"factor {self.name} needs a finite number, got {value!r}")
        if not kind.low <= value <= kind.high:
            raise ConfigError(
                f"factor {self.name} must be in [{kind.low:g}, {kind.high:g}], got {value:g}"
            )
        if kind.integer and value != int(value):
            raise ConfigError(f"factor {self.name} must be a whole number, got {value:g}")
        if kind.identity is not None and value == kind.identity:
            raise ConfigError(f"factor {self.name}:{value:g} changes nothing")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"factor {self.name} seed must be an integer >= 0, got {self.seed!r}")

    @classmethod
    def parse(cls, text: str) -> Factor:
        """The factor written `NAME:VALUE` or `NAME:VALUE@SEED`, e.g. `shift:3@1`.

        Raises:
            ConfigError: not of that form, an unknown name or a value out of range (one line).
        """
        match = _TEXT.fullmatch(text.strip())
        if match is None:
            raise ConfigError(
                f"factor {text!r} is not NAME:VALUE[@SEED] (e.g. hue:120, shift:3@1); "
                f"names: {', '.join(KINDS)}"
            )
        name, value, seed = match.groups()
        number = float(value)
        return cls(name, int(number) if number == int(number) else number, int(seed or 0))

    @property
    def label(self) -> str:
        """The factor as written, canonically (`size:+20`, `shift:3@1`)."""
        sign = "+" if self.name == "size" and self.value > 0 else ""
        return f"{self.name}:{sign}{self.value:g}" + (f"@{self.seed}" if self.seed else "")

    @property
    def description(self) -> str:
        """What the factor does, in words."""
        return KINDS[self.name].what.replace("VALUE", f"{self.value:g}")

    def check(self, world: str) -> None:
        """Refuse a factor `world` cannot show (one-line `ConfigError`), before any work."""
        kind = KINDS[self.name]
        if kind.part is not None:
            palette_of(world, kind.part, self.label)
        if kind.world_level and world not in SIZE_FIELDS:
            raise ConfigError(
                f"factor {self.label} changes a body's size through the world's config; world "
                f"{world!r} has no size field (it can on {', '.join(sorted(SIZE_FIELDS))})"
            )

    def world_changes(self, world: str, settings: dict[str, Any]) -> dict[str, Any]:
        """The world config changes of this factor for `world` made with `settings` ({} if none)."""
        self.check(world)
        if not KINDS[self.name].world_level:
            return {}
        field = SIZE_FIELDS[world]
        env = make(world, **settings)
        current = float(getattr(env.unwrapped.config, field))  # type: ignore[attr-defined]
        env.close()
        return {field: current * (1 + self.value / 100)}

    def transform(self, world: str) -> FrameTransform:
        """The change this factor makes to `world`'s frames (the identity for world factors)."""
        self.check(world)
        return FrameTransform(self, world)


def parse_factors(text: str) -> tuple[Factor, ...]:
    """The factors of a comma-separated list, e.g. `hue:120,brightness:0.6` (no repeats)."""
    factors = tuple(Factor.parse(part) for part in text.split(",") if part.strip())
    if not factors:
        raise ConfigError(f"no factor in {text!r}; e.g. hue:120,brightness:0.6")
    labels = [factor.label for factor in factors]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ConfigError(f"factor(s) {', '.join(repeated)} named twice")
    return factors


class FrameTransform:
    """A factor's change of `uint8 [h, w, 3]` frames in one world: a fixed function of the frame."""

    def __init__(self, factor: Factor, world: str) -> None:
        self.factor, self.world = factor, world
        kind = KINDS[factor.name]
        self._palette = None if kind.part is None else palette_of(world, kind.part, factor.label)
        self._shapes: dict[int, Distractors] = {}  # distractors by frame side, drawn once

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """The frame `uint8 [h, w, 3]` as the agent sees it under the factor (a new array)."""
        name, value = self.factor.name, float(self.factor.value)
        pixels = frame.astype(np.float64)
        if name == "size":
            return frame.copy()
        if name == "hue":
            turned = pixels @ hue_rotation(math.radians(value)).double().numpy().T
            return _to_uint8(turned)
        if name == "brightness":
            return _to_uint8(pixels * value)
        if name == "contrast":
            return _to_uint8(127.5 + value * (pixels - 127.5))
        if name == "shift":
            angle = np.random.default_rng(self.factor.seed).uniform(0, 2 * math.pi)
            dx, dy = round(value * math.cos(angle)), round(value * math.sin(angle))
            return _resample(frame, 1.0, dx, dy)
        if name == "zoom":
            return _resample(frame, value, 0, 0)
        return self._part_change(frame)

    def _part_change(self, frame: np.ndarray) -> np.ndarray:
        """The change of a factor of one part (found by colour) to `frame uint8 [h, w, 3]`."""
        name, value, palette = self.factor.name, float(self.factor.value), self._palette
        if palette is None:
            raise ConfigError(f"factor {self.factor.label} changes no part of a frame")
        weights = palette.unmix(frame)
        if name == "distractors":
            side = frame.shape[0]
            if side not in self._shapes:
                self._shapes[side] = distractors(int(value), side, self.factor.seed)
            return paint_background(frame, palette, self._shapes[side], weights)
        part = KINDS[name].part or ""
        old = palette.colours[palette.indices(part)]
        if name == "background_hue":
            return recolour(frame, palette, part, tinted(old, value), weights)
        turned = old @ hue_rotation(math.radians(value)).double().numpy().T
        return recolour(frame, palette, part, np.clip(turned, 0, 255), weights)


class FactoredAgent:
    """An agent that sees every frame (observations and goal) through a `FrameTransform`."""

    def __init__(self, agent: Agent, transform: FrameTransform) -> None:
        self.agent, self.transform = agent, transform

    def begin(self, goal_pixels: np.ndarray) -> None:
        """Start an episode towards the transformed goal frame."""
        self.agent.begin(self.transform(goal_pixels))

    def act(self, pixels: np.ndarray) -> np.ndarray:
        """The wrapped agent's action for the transformed observation."""
        return self.agent.act(self.transform(pixels))

    @property
    def decision_seconds(self) -> list[float] | None:
        """The wrapped agent's decision times, where it times its decisions."""
        return getattr(self.agent, "decision_seconds", None)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def _resample(frame: np.ndarray, zoom: float, dx: int, dy: int) -> np.ndarray:
    """`frame` zoomed by `zoom` about its centre and moved by (dx, dy) pixels, bilinear.

    Output pixel (i, j) shows the scene at ((i + 0.5 - c) / zoom + c - dy, ... - dx) with c the
    frame's centre; outside the frame the nearest edge pixel is repeated.
    """
    h, w = frame.shape[:2]
    rows = (np.arange(h) + 0.5 - h / 2) / zoom + h / 2 - dy - 0.5
    cols = (np.arange(w) + 0.5 - w / 2) / zoom + w / 2 - dx - 0.5
    r0 = np.clip(np.floor(rows), 0, h - 1).astype(int)
    c0 = np.clip(np.floor(cols), 0, w - 1).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr = np.clip(rows - r0, 0, 1)[:, None, None]
    fc = np.clip(cols - c0, 0, 1)[None, :, None]
    image = frame.astype(np.float64)
    top = image[r0][:, c0] * (1 - fc) + image[r0][:, c1] * fc
    bottom = image[r1][:, c0] * (1 - fc) + image[r1][:, c1] * fc
    return _to_uint8(top * (1 - fr) + bottom * fr)
