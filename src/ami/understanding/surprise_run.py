"""Violation of expectation, measured: matched pairs of episodes with and without an event.

Each base episode is collected with the world's mixed policy (the random policy where the world
has no scripted expert, e.g. a `gym:` world) and is the control twin. For every event
the same episode is replayed from the same reset seed with the same actions in an `EventWorld`,
so both are identical frame for frame up to the event. The score of a pair is the surprise at the
frame that first shows the event, in the event episode and in its twin. Per event type:

- AUROC of the event episodes' scores against the twins' (1: every event more surprising),
- the exact one-sided paired sign test p-value (event > twin),
- the share of event frames (and of twin frames) above the monitor threshold, calibrated to the
  asked false-alarm rate on separate normal episodes (on their steps from `history * k` on, once
  the predictor's context is all observed frames; events happen later than that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ami.config import config_to_dict, require_in_range, require_positive
from ami.errors import ConfigError
from ami.experience import CollectConfig, Episode, collect
from ami.experience.collect import EXPERT_WORLDS
from ami.model import WorldModel
from ami.progress import progress_bar
from ami.understanding.models import encode_frames
from ami.understanding.perturbations import (
    HOOKED_WORLDS,
    WORLD_EVENTS,
    Event,
    EventWorld,
    WorldHooks,
)
from ami.understanding.probe_run import EXPERT_FRACTION
from ami.understanding.state_events import (
    STATE_EVENTS,
    SimStateHooks,
    record_sim_states,
    require_state_setter,
)
from ami.understanding.stats import auroc, binomial_upper_tail, sign_test
from ami.understanding.surprise import calibrate_threshold, surprise_series
from ami.worlds import make
from ami.worlds.gym_id import is_gym_world

WINDOW = (10, 10)  # env steps shown before and after the event in the plot


@dataclass(frozen=True)
class SurpriseRunConfig:
    """What a surprise run covers.

    Attributes:
        world: registry name of the world: two_room, push_t, cube, or a `gym:` world whose
            simulator state can be set.
        pairs: base episodes (each gives one pair per event type).
        steps_per_episode: env steps per episode.
        event_from: earliest env step an event is asked for.
        event_to: latest env step an event is asked for (uniform in between, per episode).
        calibration_episodes: normal episodes the monitor threshold is calibrated on.
        false_alarm_rate: the monitor's asked false-alarm rate per env step.
        seed: collection seed of the base episodes (calibration uses `seed + 500_000`).
        events: the event types (None: every event the world stages, `event_names`).
        world_options: the world's settings (`make(world, **world_options)`), as in its recipe.
    """

    world: str
    pairs: int = 100
    steps_per_episode: int = 60
    event_from: int = 20
    event_to: int = 35
    calibration_episodes: int = 100
    false_alarm_rate: float = 0.01
    seed: int = 2_000_000
    events: tuple[str, ...] | None = None
    world_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = "SurpriseRunConfig"
        if not isinstance(self.world, str) or not (
            self.world in HOOKED_WORLDS or is_gym_world(self.world)
        ):
            raise ConfigError(
                f"{owner}.world must be one of {', '.join(HOOKED_WORLDS)} or a gym: world, "
                f"got {self.world!r}"
            )
        for name in ("pairs", "steps_per_episode", "calibration_episodes", "event_from"):
            require_positive(owner, name, getattr(self, name))
        if not self.event_from <= self.event_to < self.steps_per_episode:
            raise ConfigError(
                f"{owner} needs event_from <= event_to < steps_per_episode, got "
                f"{self.event_from}, {self.event_to}, {self.steps_per_episode}"
            )
        require_in_range(owner, "false_alarm_rate", self.false_alarm_rate, 1e-4, 0.5)
        if self.events is None:
            return
        for event in self.events:
            Event(event, 1)  # unknown event: ConfigError
            if event not in self.world_events:
                raise ConfigError(
                    f"{owner}.events: {self.world!r} stages {', '.join(self.world_events)}, "
                    f"not {event!r}"
                )
        if not self.events:
            raise ConfigError(f"{owner}.events must name at least one event")

    @property
    def world_events(self) -> tuple[str, ...]:
        """Every event the world stages."""
        return WORLD_EVENTS[self.world] if self.world in HOOKED_WORLDS else STATE_EVENTS

    @property
    def event_names(self) -> tuple[str, ...]:
        """The events run: `events`, else every event the world stages."""
        return self.world_events if self.events is None else self.events

    def fitted_to(self, max_steps: int | None) -> SurpriseRunConfig:
        """These settings for episodes of at most `max_steps` steps (a TimeLimit).

        Episodes, event window and all shrink by the same factor where they would run past it.
        """
        if max_steps is None or max_steps >= self.steps_per_episode:
            return self
        scale = max_steps / self.steps_per_episode
        event_to = min(max(1, int(self.event_to * scale)), max_steps - 1)
        event_from = min(max(1, int(self.event_from * scale)), event_to)
        return replace(self, steps_per_episode=max_steps, event_from=event_from, event_to=event_to)


@dataclass(frozen=True)
class EventResult:
    """One event type's pairs.

    Attributes:
        event: the event's name.
        event_scores: surprise at the event frame, per pair `[P]`.
        twin_scores: surprise at the same frame of the twin `[P]`.
        aligned_event: surprise around the event `[P, before + after + 1]` (NaN off the episode).
        aligned_twin: the same for the twins.
        skipped: base episodes where the event never fitted.
    """

    event: str
    event_scores: np.ndarray
    twin_scores: np.ndarray
    aligned_event: np.ndarray
    aligned_twin: np.ndarray
    skipped: int

    def figures(self, threshold: float, false_alarm_rate: float) -> dict[str, Any]:
        """AUROC, sign-test p-value and flag rates at `threshold` (plain data).

        `flag_p_value` tests the flag count against `false_alarm_rate` (exact binomial, one
        sided): small when the event is flagged more often than normal experience would be.
        """
        pairs = int(self.event_scores.size)
        if pairs == 0:
            return {"pairs": 0, "skipped": self.skipped}
        return {
            "auroc": auroc(self.event_scores, self.twin_scores),
            "p_value": sign_test(self.event_scores - self.twin_scores),
            "flag_rate": float((self.event_scores > threshold).mean()),
            "flag_p_value": binomial_upper_tail(
                int((self.event_scores > threshold).sum()), pairs, false_alarm_rate
            ),
            "twin_flag_rate": float((self.twin_scores > threshold).mean()),
            "median_surprise": float(np.median(self.event_scores)),
            "median_twin_surprise": float(np.median(self.twin_scores)),
            "pairs": pairs,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class SurpriseReport:
    """A whole run: the threshold and each event type's pairs."""

    config: SurpriseRunConfig
    threshold: float
    calibration_steps: int
    results: dict[str, EventResult]

    def as_dict(self) -> dict[str, Any]:
        """The surprise.json document of one world."""
        return {
            "world": self.config.world,
            "threshold": self.threshold,
            "false_alarm_rate": self.config.false_alarm_rate,
            "calibration_steps": self.calibration_steps,
            "events": {
                name: r.figures(self.threshold, self.config.false_alarm_rate)
                for name, r in self.results.items()
            },
            "settings": config_to_dict(self.config),
        }


def run_surprise(
    model: WorldModel, config: SurpriseRunConfig, progress: bool = True
) -> SurpriseReport:
    """Calibrate the threshold, run every event's matched pairs, score them.

    Raises:
        ConfigError: a `gym:` world without a simulator state setter, or a world whose episodes
            do not replay identically from their seeds.
    """
    size = model.config.encoder.image_size
    if config.world not in HOOKED_WORLDS:
        require_state_setter(config.world, {"size": size, **config.world_options})
    calibration = _episodes(config, config.calibration_episodes, config.seed + 500_000, size)
    # steps whose prediction context is fully observed (t >= history * k) only: before that the
    # context is padded with the first frame, which shows no motion, and the surprise is lower
    full_context = model.history * model.config.frameskip
    normal = [surprise_series(model, e.pixels, e.actions)[full_context:] for e in calibration]
    threshold = calibrate_threshold(normal, config.false_alarm_rate)
    twins = list(_episodes(config, config.pairs, config.seed, size))
    twin_z = [encode_frames(model, e.pixels) for e in twins]
    twin_series = [
        surprise_series(model, e.pixels, e.actions, z) for e, z in zip(twins, twin_z, strict=True)
    ]
    rng = np.random.default_rng(config.seed)
    asked = rng.integers(config.event_from, config.event_to + 1, size=len(twins))
    donors = None if config.world in HOOKED_WORLDS else _donor_states(config, calibration, size)
    names = config.event_names
    results = {}
    with progress_bar(progress, "event pairs", total=len(names) * len(twins)) as advance:
        for name in names:
            results[name] = _event_pairs(
                model, name, twins, twin_z, twin_series, asked, config, size, donors, advance
            )
    steps = int(sum(np.isfinite(s).sum() for s in normal))
    return SurpriseReport(config, threshold, steps, results)


def _episodes(config: SurpriseRunConfig, count: int, seed: int, size: int) -> list[Episode]:
    collect_config = CollectConfig(
        world=config.world,
        episodes=count,
        steps_per_episode=config.steps_per_episode,
        policy="mixed" if config.world in EXPERT_WORLDS else "random",
        expert_fraction=EXPERT_FRACTION.get(config.world, 0.5),
        seed=seed,
        image_size=size,
        world_options=dict(config.world_options),
    )
    return list(collect(collect_config, progress=False))


def _donor_states(config: SurpriseRunConfig, calibration: Sequence[Episode], size: int) -> Any:
    """The simulator states of the calibration episodes, replayed, `[M, N]`: teleport targets."""
    world = _world(config, size)
    try:
        return np.concatenate(
            [
                record_sim_states(world, config.seed + 500_000 + i, episode.actions)
                for i, episode in enumerate(calibration)
            ]
        )
    finally:
        world.close()


def _world(config: SurpriseRunConfig, size: int) -> Any:
    return make(config.world, size=size, **config.world_options)


def _event_pairs(
    model: WorldModel,
    name: str,
    twins: Sequence[Episode],
    twin_z: Sequence[np.ndarray],
    twin_series: Sequence[np.ndarray],
    asked: np.ndarray,
    config: SurpriseRunConfig,
    size: int,
    donors: np.ndarray | None,
    advance: Any,
) -> EventResult:
    """Replay every twin with event `name`; the pairs' scores and aligned series.

    `donors` `[M, N]`: the simulator states a `gym:` world teleports to (None: built-in hooks).
    """
    scores, twin_scores, aligned, aligned_twin, skipped = [], [], [], [], 0
    for i, (twin, series) in enumerate(zip(twins, twin_series, strict=True)):
        env = _world(config, size)
        hooks: WorldHooks | None = None if donors is None else SimStateHooks(env, donors)
        world = EventWorld(env, Event(name, int(asked[i])), seed=i, hooks=hooks)
        frames = replay(world, config.seed + i, twin.actions)
        world.close()
        advance(1)
        at = world.applied_at
        if at is None:
            skipped += 1
            continue
        if not np.array_equal(frames[:at], twin.pixels[:at]):
            raise ConfigError(
                f"{config.world}: episode {i} did not replay identically from its seed before "
                f"the {name} event, so it has no twin (its steps are not determined by its seed)"
            )
        # identical up to the event: only the frames from the event on need encoding
        z = np.concatenate([twin_z[i][:at], encode_frames(model, frames[at:])])
        event_series = surprise_series(model, frames, twin.actions, z)
        scores.append(event_series[at])
        twin_scores.append(series[at])
        aligned.append(_window(event_series, at))
        aligned_twin.append(_window(series, at))
    width = sum(WINDOW) + 1
    return EventResult(
        name,
        np.asarray(scores),
        np.asarray(twin_scores),
        np.asarray(aligned).reshape(-1, width),
        np.asarray(aligned_twin).reshape(-1, width),
        skipped,
    )


def replay(world: EventWorld, seed: int, actions: np.ndarray) -> np.ndarray:
    """Reset `world` with `seed`, take `actions [L, A]`; the frames seen `uint8 [L+1, h, w, 3]`."""
    obs, _ = world.reset(seed=seed)
    frames = [obs["pixels"]]
    for action in actions:
        obs, *_ = world.step(action)
        frames.append(obs["pixels"])
    return np.stack(frames)


def _window(series: np.ndarray, at: int) -> np.ndarray:
    """`series` from `at - before` to `at + after` (NaN where the episode does not reach)."""
    before, after = WINDOW
    out = np.full(before + after + 1, np.nan)
    lo, hi = max(at - before, 0), min(at + after + 1, len(series))
    out[lo - (at - before) : hi - (at - before)] = series[lo:hi]
    return out
