"""Probe a world model: fit linear and MLP probes on some episodes, score them on held-out ones.

Episodes are split by episode (never by frame): the probes are fitted on the first
`1 - test_fraction` of them and scored on the rest, for the trained encoder and for a randomly
initialised encoder of the same architecture (the floor). By default the episodes are collected
fresh from `seed` with the world's mixed policy (the random policy in a world without a scripted
expert, such as a `gym:` world) (1 000 000 and up, far from the training data's
seeds 0..999), so they are held out from the model's training too. Many short episodes (600 of 30
steps) rather than few long ones: an unpushed PushT block keeps its pose for a whole episode, so
the number of distinct poses the probe sees is about the number of episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ami.config import config_to_dict, require_in_range, require_positive
from ami.errors import ConfigError
from ami.experience import CollectConfig, Episode, collect
from ami.experience.collect import EXPERT_WORLDS
from ami.model import WorldModel
from ami.progress import progress_bar
from ami.understanding.models import encode_frames, random_twin
from ami.understanding.probes import ProbeConfig, fit_probe
from ami.understanding.quantities import (
    QuantityGroup,
    features,
    quantity_groups,
    readout,
    targets,
    true_values,
)
from ami.understanding.stats import pearson_r, r2_score

ENCODERS = ("trained", "random")
HEADLINE_PROBE = "mlp"  # the probe whose figures head each entry (the linear one is beside it)
# Share of expert episodes in the probing data, as in the world's training recipe.
EXPERT_FRACTION = {"two_room": 0.5, "push_t": 0.8, "cube": 1.0}
# Longer episodes where 30 steps show too little: the cube's expert first moves it at ~step 30.
STEPS_PER_EPISODE = {"cube": 60}


@dataclass(frozen=True)
class ProbeRunConfig:
    """What a probing run covers.

    Attributes:
        world: registry name or `gym:` id of the world (one that gives a state).
        episodes: episodes collected for probing.
        steps_per_episode: env steps per episode.
        test_fraction: share of the episodes held out for scoring.
        seed: collection seed of the first episode (episode i uses seed + i).
        linear: the linear probe's settings.
        mlp: the MLP probe's settings.
        random_seed: seed of the random encoder's initialisation.
        world_options: the world's settings (`make(world, **world_options)`), as in its recipe.
    """

    world: str
    episodes: int = 600
    steps_per_episode: int = 30
    test_fraction: float = 0.3
    seed: int = 1_000_000
    linear: ProbeConfig = field(default_factory=lambda: ProbeConfig(kind="linear"))
    mlp: ProbeConfig = field(default_factory=lambda: ProbeConfig(kind="mlp"))
    random_seed: int = 0
    world_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.world, str) or not self.world:
            raise ConfigError(f"ProbeRunConfig.world must be a world name, got {self.world!r}")
        require_positive("ProbeRunConfig", "episodes", self.episodes)
        require_positive("ProbeRunConfig", "steps_per_episode", self.steps_per_episode)
        require_in_range("ProbeRunConfig", "test_fraction", self.test_fraction, 0.05, 0.95)
        if self.linear.kind != "linear" or self.mlp.kind != "mlp":
            raise ConfigError("ProbeRunConfig.linear/mlp must have kind 'linear'/'mlp'")

    @property
    def test_episodes(self) -> int:
        """How many episodes are held out."""
        return max(1, round(self.test_fraction * self.episodes))


@dataclass(frozen=True)
class QuantityResult:
    """One quantity's held-out scores.

    Attributes:
        quantity: e.g. "block_x".
        group: its group, e.g. "block position".
        unit: the unit of `truth` and `predicted`.
        scores: encoder ("trained", "random") → probe ("linear", "mlp") → {"r", "r2"}.
        truth: true values on the held-out episodes `[N]`.
        predicted: probe → the trained encoder's predictions `[N]`; "random" → the random
            encoder's with the headline probe.
    """

    quantity: str
    group: str
    unit: str
    scores: dict[str, dict[str, dict[str, float]]]
    truth: np.ndarray
    predicted: dict[str, np.ndarray]

    def as_dict(self) -> dict[str, Any]:
        """Plain data: the headline probe's r and R², the floor's, and both probes in full."""
        trained, floor = self.scores["trained"], self.scores["random"]
        head = trained[HEADLINE_PROBE]
        return {
            "r": head["r"],
            "r2": head["r2"],
            "r_random_encoder": floor[HEADLINE_PROBE]["r"],
            "r2_random_encoder": floor[HEADLINE_PROBE]["r2"],
            "probe": HEADLINE_PROBE,
            "group": self.group,
            "unit": self.unit,
            "held_out_samples": int(self.truth.size),
            **{
                kind: {
                    "r": trained[kind]["r"],
                    "r2": trained[kind]["r2"],
                    "r_random_encoder": floor[kind]["r"],
                    "r2_random_encoder": floor[kind]["r2"],
                }
                for kind in trained
            },
        }


def probe_episodes(config: ProbeRunConfig, image_size: int, progress: bool) -> list[Episode]:
    """Collect the probing episodes (mixed or random policy) at the model's image size."""
    return list(collect(fresh_episodes(config, image_size), progress=progress))


def fresh_episodes(config: ProbeRunConfig, image_size: int) -> CollectConfig:
    """How the probing episodes are collected: the world's mixed policy, else the random one."""
    expert = config.world in EXPERT_WORLDS
    return CollectConfig(
        world=config.world,
        episodes=config.episodes,
        steps_per_episode=config.steps_per_episode,
        policy="mixed" if expert else "random",
        expert_fraction=EXPERT_FRACTION.get(config.world, 0.5),
        seed=config.seed,
        image_size=image_size,
        world_options=dict(config.world_options),
    )


def run_probes(
    model: WorldModel,
    episodes: Sequence[Episode],
    config: ProbeRunConfig,
    progress: bool = True,
) -> list[QuantityResult]:
    """Fit and score every probe of `config.world` on `episodes` for the model and its floor."""
    if len(episodes) < 2:
        raise ConfigError(f"probing needs at least 2 episodes, got {len(episodes)}")
    k = model.config.frameskip
    if min(e.length for e in episodes) <= k:
        raise ConfigError(f"probing needs episodes longer than the frameskip {k}")
    n_test = min(config.test_episodes, len(episodes) - 1)
    split = len(episodes) - n_test
    embeddings = {
        "trained": _encode(model, episodes, progress, "encoding (trained)"),
        "random": _encode(
            random_twin(model, config.random_seed), episodes, progress, "encoding (random)"
        ),
    }
    groups = quantity_groups(config.world, config.world_options)
    results: list[QuantityResult] = []
    with progress_bar(progress, "fitting probes", total=len(groups)) as advance:
        for group in groups:
            results += _probe_group(group, episodes, embeddings, split, k, config)
            advance(1)
    return results


def _encode(
    model: WorldModel, episodes: Sequence[Episode], progress: bool, label: str
) -> list[np.ndarray]:
    """Per episode, embeddings `[L+1, D]`."""
    out = []
    with progress_bar(progress, label, total=len(episodes)) as advance:
        for episode in episodes:
            out.append(encode_frames(model, episode.pixels))
            advance(1)
    return out


def _probe_group(
    group: QuantityGroup,
    episodes: Sequence[Episode],
    embeddings: dict[str, list[np.ndarray]],
    split: int,
    k: int,
    config: ProbeRunConfig,
) -> list[QuantityResult]:
    """Scores of one group's quantities for every encoder and probe."""
    values = [true_values(e.states, group, k) for e in episodes]
    train_values, test_values = np.concatenate(values[:split]), np.concatenate(values[split:])
    scores: dict[str, dict[str, list[dict[str, float]]]] = {}
    predicted: dict[str, np.ndarray] = {}
    for encoder in ENCODERS:
        x = [features(z, group, k) for z in embeddings[encoder]]
        x_train, x_test = np.concatenate(x[:split]), np.concatenate(x[split:])
        scores[encoder] = {}
        for probe_config in (config.linear, config.mlp):
            probe = fit_probe(x_train, targets(train_values, group), probe_config)
            values_hat = readout(probe.predict(x_test), test_values, group)
            scores[encoder][probe_config.kind] = [
                _score(test_values[:, c], values_hat[:, c]) for c in range(len(group.columns))
            ]
            if encoder == "trained":
                predicted[probe_config.kind] = values_hat
            elif probe_config.kind == HEADLINE_PROBE:
                predicted["random"] = values_hat
    return [
        QuantityResult(
            quantity=name,
            group=group.name,
            unit=group.unit,
            scores={e: {p: s[c] for p, s in by_probe.items()} for e, by_probe in scores.items()},
            truth=test_values[:, c],
            predicted={key: value[:, c] for key, value in predicted.items()},
        )
        for c, name in enumerate(group.names)
    ]


def _score(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {"r": pearson_r(truth, predicted), "r2": r2_score(truth, predicted)}


def probe_document(results: Sequence[QuantityResult], config: ProbeRunConfig) -> dict[str, Any]:
    """The probe.json document of one world: quantity → figures, and the run's settings."""
    return {
        "world": config.world,
        "quantities": {result.quantity: result.as_dict() for result in results},
        "settings": config_to_dict(config),
    }
