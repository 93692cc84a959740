"""The exploration policies (held, colored, novelty) and a user's `module:callable` policy."""

from __future__ import annotations

import numpy as np
import pytest

from ami.errors import ConfigError
from ami.experience import (
    CollectConfig,
    ColoredNoisePolicy,
    ExperienceDataset,
    HeldRandomPolicy,
    NoveltyPolicy,
    RandomPolicy,
    collect,
    collect_to_file,
    load_user_policy,
    powerlaw_noise,
)
from ami.worlds import make
from cli_run import ami, assert_one_line_error

POINT = "gym:fake_gym_envs:AmiTest/DictPoint-v0"
EXPLORERS = {
    "held": lambda: HeldRandomPolicy(2),
    "colored": lambda: ColoredNoisePolicy(2, beta=1.0, horizon=50),
    "novelty": lambda: NoveltyPolicy(2),
}


def walk(policy, seed: int, steps: int = 100, speed: float = 0.05) -> tuple[np.ndarray, ...]:
    """A point in [-1, 1]^2 moved `speed * action` per step from a seeded start.

    Returns the positions `[steps + 1, 2]` and the actions `[steps, 2]`.
    """
    position = np.random.default_rng(1000 + seed).uniform(-0.8, 0.8, 2).astype(np.float32)
    policy.reset(np.random.default_rng([0, seed]))
    positions, actions = [position], []
    for _ in range(steps):
        action = policy({"state": position}, {})
        actions.append(action)
        position = np.clip(position + speed * action, -1.0, 1.0).astype(np.float32)
        positions.append(position)
    return np.stack(positions), np.stack(actions)


def distinct_cells(positions: np.ndarray, width: float = 0.1) -> int:
    """How many grid cells of side `width` the positions `[n, 2]` visit."""
    return len({tuple(cell) for cell in np.floor(positions / width).astype(int)})


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_actions_are_float32_in_the_box_and_a_function_of_the_rng(name: str) -> None:
    _, actions = walk(EXPLORERS[name](), seed=3, steps=120)
    assert actions.dtype == np.float32 and actions.shape == (120, 2)
    assert np.abs(actions).max() <= 1.0
    assert np.abs(actions).max() > 0.5  # it does move
    _, again = walk(EXPLORERS[name](), seed=3, steps=120)
    _, other = walk(EXPLORERS[name](), seed=4, steps=120)
    np.testing.assert_array_equal(actions, again)
    assert not np.array_equal(actions, other)


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_asking_before_reset_is_an_error(name: str) -> None:
    with pytest.raises(RuntimeError, match="reset"):
        EXPLORERS[name]()({"state": np.zeros(2, np.float32)}, {})


def test_held_lengths_span_short_and_long_holds_and_half_are_at_full_speed() -> None:
    policy = HeldRandomPolicy(3, hold_steps=(1, 64), full_speed=0.5)
    policy.reset(np.random.default_rng(0))
    actions = np.stack([policy({}, {}) for _ in range(60_000)])
    changes = np.flatnonzero(np.any(actions[1:] != actions[:-1], axis=1)) + 1
    lengths = np.diff(np.concatenate([[0], changes]))  # every completed hold
    assert lengths.min() >= 1 and lengths.max() <= 64
    # log-uniform over [1, 65): P(L <= 2) = log 3 / log 65 = 0.26, P(L >= 32) = 0.17
    assert 0.22 < np.mean(lengths <= 2) < 0.30
    assert 0.13 < np.mean(lengths >= 32) < 0.21
    held = actions[np.concatenate([[0], changes[:-1]])]  # one action per hold
    assert 0.45 < np.mean(np.isclose(np.abs(held).max(axis=1), 1.0)) < 0.55


def test_held_refuses_bad_settings() -> None:
    for kwargs in ({"hold_steps": (0, 5)}, {"hold_steps": (6, 5)}, {"full_speed": 1.5}):
        with pytest.raises(ConfigError, match="HeldRandomPolicy"):
            HeldRandomPolicy(2, **kwargs)


def spectral_slope(noise: np.ndarray) -> float:
    """The log-log slope of the mean periodogram of `noise [steps, n]` (frequency 0 left out)."""
    power = np.mean(np.abs(np.fft.rfft(noise, axis=0)) ** 2, axis=1)
    frequencies = np.fft.rfftfreq(noise.shape[0])
    return float(np.polyfit(np.log(frequencies[1:]), np.log(power[1:]), 1)[0])


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("steps", [256, 257])
def test_powerlaw_noise_has_the_asked_slope_and_unit_variance(beta: float, steps: int) -> None:
    noise = powerlaw_noise(beta, steps, 400, np.random.default_rng(0))
    assert spectral_slope(noise) == pytest.approx(-beta, abs=0.08)
    assert noise.var(axis=1).mean() == pytest.approx(1.0, abs=0.05)


def test_colored_policy_actions_have_the_asked_slope() -> None:
    policy = ColoredNoisePolicy(1, beta=2.0, horizon=128, scale=0.25)  # rarely clipped
    episodes = []
    for seed in range(300):
        policy.reset(np.random.default_rng(seed))
        episodes.append(np.concatenate([policy({}, {}) for _ in range(128)]))
    assert spectral_slope(np.stack(episodes, axis=1)) == pytest.approx(-2.0, abs=0.15)
    pink = ColoredNoisePolicy(1, beta=1.0, horizon=128, scale=0.25)
    pink.reset(np.random.default_rng(0))
    longer = np.concatenate([pink({}, {}) for _ in range(300)])  # past the horizon: fresh blocks
    assert np.abs(longer).max() <= 1.0 and np.unique(longer).size > 250


def test_colored_refuses_bad_settings() -> None:
    for kwargs in ({"beta": -1.0}, {"horizon": 1}, {"scale": 0.0}):
        with pytest.raises(ConfigError, match="ColoredNoisePolicy"):
            ColoredNoisePolicy(2, **kwargs)


def test_novelty_visits_more_cells_than_uniform_random_and_than_its_own_candidates() -> None:
    def cells(make_policy) -> float:
        return float(np.mean([distinct_cells(walk(make_policy(), seed)[0]) for seed in range(12)]))

    novelty = cells(lambda: NoveltyPolicy(2))
    assert novelty > 1.2 * cells(lambda: RandomPolicy(2))
    assert novelty > 1.15 * cells(lambda: NoveltyPolicy(2, epsilon=1.0))  # the choice, not luck


def test_novelty_refuses_bad_settings_and_a_state_too_short() -> None:
    for kwargs in ({"hold": 0}, {"bins": 0}, {"state_dims": []}, {"epsilon": 2.0}):
        with pytest.raises(ConfigError, match="NoveltyPolicy"):
            NoveltyPolicy(2, **kwargs)
    policy = NoveltyPolicy(2, state_dims=[0, 5])
    policy.reset(np.random.default_rng(0))
    with pytest.raises(ConfigError, match="state_dims"):
        policy({"state": np.zeros(4, np.float32)}, {})


@pytest.mark.parametrize("policy", ["held", "colored", "novelty", "user_policies:make_eastward"])
def test_collect_takes_every_new_policy_in_a_foreign_world(policy: str) -> None:
    config = CollectConfig(world=POINT, episodes=2, steps_per_episode=12, policy=policy)
    first = [e.actions for e in collect(config, progress=False)]
    again = [e.actions for e in collect(config, progress=False)]
    assert [a.shape for a in first] == [(12, 2), (12, 2)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_config_refuses_unknown_names_and_malformed_callables() -> None:
    for policy in ("wander", "mod:", ":make", "my mod:make", "a:b:c"):
        with pytest.raises(ConfigError, match="policy"):
            CollectConfig(world=POINT, episodes=1, steps_per_episode=1, policy=policy)
    with pytest.raises(ConfigError, match="scripted expert.*'held'"):
        CollectConfig(world=POINT, episodes=1, steps_per_episode=1, policy="expert")


def test_a_user_policy_is_built_with_the_action_size_and_env_and_recorded(tmp_path) -> None:
    env = make(POINT, size=16)
    policy = load_user_policy("user_policies:make_eastward", 2, env)
    assert (policy.action_dim, policy.env) == (2, env)
    config = CollectConfig(
        world=POINT, episodes=2, steps_per_episode=5, policy="user_policies:make_eastward"
    )
    path = collect_to_file(config, tmp_path / "east.h5", progress=False)
    with ExperienceDataset.open(path) as dataset:
        assert dataset.meta["collect"]["policy"] == "user_policies:make_eastward"
        np.testing.assert_array_equal(dataset.episode(0).actions[:5], [[1.0, 0.0]] * 5)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("no_such_module:make", "cannot import module 'no_such_module'"),
        ("user_policies:missing", "has no 'missing'"),
        ("user_policies:NOT_CALLABLE", "is a int, not a callable"),
        ("user_policies:returns_junk", "lacks reset and __call__"),
        ("user_policies:fails", "failed: ValueError: no expert for this env"),
    ],
)
def test_user_policy_errors_are_one_line(name: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as error:
        load_user_policy(name, 2, make(POINT, size=16))
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_cli_user_policy_error_is_one_line(tmp_path) -> None:
    result = ami(
        "collect", "--world", POINT, "--out", str(tmp_path / "d.h5"), "--episodes", "1",
        "--steps", "3", "--image-size", "16", "--policy", "user_policies:returns_junk", "--quiet",
    )  # fmt: skip
    assert_one_line_error(result, "user_policies:returns_junk", "lacks reset")
