"""Minari datasets: frames replayed from a state-only dataset, image observations, bad input.

The datasets are written in the tests by Minari's own writer (`minari.create_dataset_from_buffers`
from episodes stepped in a Gymnasium env; `minari.DataCollector` would need jax, which
`minari[create]` brings and ami does not install) into a temporary `MINARI_DATASETS_PATH`;
nothing is downloaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

minari = pytest.importorskip("minari")
gym = pytest.importorskip("gymnasium")

from minari.data_collector import EpisodeBuffer  # noqa: E402

from ami.errors import DatasetError  # noqa: E402
from ami.experience import ExperienceDataset  # noqa: E402
from ami.experience.sources import (  # noqa: E402
    ImportOptions,
    detect_format,
    import_dataset,
    open_reader,
    parse_source,
)
from ami.experience.sources.minari import MinariReader  # noqa: E402

SEEDS = (7, 8, 9)
STEPS = 6  # steps per episode (Pendulum's TimeLimit truncates there)


@pytest.fixture
def datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def _record(env: Any, seeds: tuple[int | None, ...], steps: int) -> list[EpisodeBuffer]:
    """Episodes of random actions stepped in `env`, reset with each seed, as Minari buffers."""
    env.action_space.seed(0)
    buffers = []
    for seed in seeds:
        observation, _ = env.reset(seed=seed)
        observations, actions, rewards, terminations, truncations = [observation], [], [], [], []
        for _ in range(steps):
            action = env.action_space.sample()
            observation, reward, terminated, truncated, _ = env.step(action)
            observations.append(observation)
            actions.append(action)
            rewards.append(reward)
            terminations.append(terminated)
            truncations.append(truncated)
            if terminated or truncated:
                break
        if isinstance(observations[0], dict):
            stacked: Any = {k: np.stack([o[k] for o in observations]) for k in observations[0]}
        else:
            stacked = np.stack(observations)
        buffers.append(
            EpisodeBuffer(
                seed=seed,
                observations=stacked,
                actions=np.stack(actions),
                rewards=rewards,
                terminations=terminations,
                truncations=truncations,
                infos={},
            )
        )
    return buffers


def _create(dataset_id: str, buffers: list[EpisodeBuffer], **kwargs: Any) -> Any:
    with warnings.catch_warnings():  # Minari's reminders to name an author, a permalink...
        warnings.simplefilter("ignore")
        return minari.create_dataset_from_buffers(dataset_id, buffers, **kwargs)


def _pendulum(steps: int = STEPS, **kwargs: Any) -> Any:
    return gym.make("Pendulum-v1", max_episode_steps=steps, **kwargs)


def _read(dataset_id: str, options: ImportOptions | None = None) -> MinariReader:
    reader = open_reader("minari", Path(dataset_id), options or ImportOptions())
    assert isinstance(reader, MinariReader)
    return reader


def _own_renders(seed: int, actions: np.ndarray) -> np.ndarray:
    """Pendulum's own frames of the episode reset with `seed` and stepped with `actions`."""
    env = _pendulum(render_mode="rgb_array")
    env.reset(seed=seed)
    frames = [env.render()]
    for action in actions:
        env.step(action.astype(np.float32))
        frames.append(env.render())
    env.close()
    return np.stack(frames)


def test_a_minari_id_parses_with_its_slashes() -> None:
    assert parse_source("minari:D4RL/pointmaze/umaze-v2") == (
        "minari",
        Path("D4RL/pointmaze/umaze-v2"),
    )


def test_a_state_only_dataset_is_replayed_for_its_frames(datasets: Path) -> None:
    buffers = _record(_pendulum(), SEEDS, STEPS)
    _create("test/pendulum/random-v0", buffers, env=_pendulum())
    reader = _read("test/pendulum/random-v0")
    try:
        assert reader.num_episodes == len(SEEDS)
        scaling = reader.action_scaling()
        assert (scaling.low, scaling.high, scaling.source) == ((-2.0,), (2.0,), "stated")
        described = reader.describe()
        assert described["frames"] == "replay" and described["refused_episodes"] == 0
        assert described["env_id"] == "Pendulum-v1" and described["state_keys"] == ["observations"]
        raws = list(reader.episodes())
    finally:
        reader.close()
    assert [raw.index for raw in raws] == [0, 1, 2]
    for raw, buffer, seed in zip(raws, buffers, SEEDS, strict=True):
        recorded = np.asarray(buffer.actions)
        assert raw.actions.shape == (STEPS, 1)
        np.testing.assert_array_equal(raw.actions, recorded.astype(np.float64))
        np.testing.assert_array_equal(raw.states, np.asarray(buffer.observations))
        assert raw.pixels.shape == (STEPS + 1, 500, 500, 3) and raw.pixels.dtype == np.uint8
        np.testing.assert_array_equal(raw.pixels, _own_renders(seed, recorded))
    assert not np.array_equal(raws[0].pixels[0], raws[0].pixels[-1])  # the pendulum moved


def test_the_import_writes_a_dataset_ami_reads(datasets: Path, tmp_path: Path) -> None:
    buffers = _record(_pendulum(), SEEDS[:2], STEPS)
    _create("pendulum-v0", buffers, env=_pendulum())
    out = import_dataset("minari:pendulum-v0", tmp_path / "ami.h5", ImportOptions(image_size=32))
    with ExperienceDataset.open(out) as dataset:
        assert dataset.num_episodes == 2 and dataset.image_size == 32
        meta = dataset.meta
        assert meta["world"] == "data:minari" and meta["source"]["format"] == "minari"
        assert meta["source"]["dataset_id"] == "pendulum-v0"
        assert meta["action_scaling"]["source"] == "stated"
        for i, buffer in enumerate(buffers):
            episode = dataset.episode(i)
            assert episode.pixels.shape == (STEPS + 1, 32, 32, 3)
            np.testing.assert_allclose(
                episode.actions, np.asarray(buffer.actions) / 2.0, rtol=0, atol=1e-7
            )
            np.testing.assert_array_equal(episode.states, np.asarray(buffer.observations))


def test_episodes_whose_replay_drifts_or_lack_a_seed_are_refused_and_counted(
    datasets: Path,
) -> None:
    buffers = _record(_pendulum(), (*SEEDS, None), STEPS)
    drifted = np.asarray(buffers[1].observations).copy()
    drifted[3, 2] += 1e-3  # the angular velocity of step 3, beyond 1e-5 x its scale of 8
    buffers[1] = EpisodeBuffer(**{**buffers[1].__dict__, "observations": drifted})
    _create("drift-v0", buffers, env=_pendulum())
    reader = _read("drift-v0")
    try:
        described = reader.describe()
        assert reader.num_episodes == 2 and described["refused_episodes"] == 2
        assert "episode 1: the replay drifts" in described["refusals"][0]
        assert "at step 3" in described["refusals"][0]
        assert "episode 3: no seed was recorded" in described["refusals"][1]
        assert [raw.index for raw in reader.episodes()] == [0, 2]
    finally:
        reader.close()
    limited = _read("drift-v0", ImportOptions(max_episodes=1))
    try:
        assert limited.num_episodes == 1
        assert [raw.index for raw in limited.episodes()] == [0]
    finally:
        limited.close()

    _create("unseeded-v0", _record(_pendulum(), (None,), STEPS), env=_pendulum())
    with pytest.raises(DatasetError, match="every episode's replay was refused") as error:
        _read("unseeded-v0")
    assert "minari:unseeded-v0" in str(error.value) and "\n" not in str(error.value)


def test_image_observations_are_the_frames_read_directly(datasets: Path, tmp_path: Path) -> None:
    base = _pendulum(5, render_mode="rgb_array")
    base.unwrapped.screen_dim = 24  # small frames
    env = gym.wrappers.AddRenderObservation(base, render_only=False)  # {"pixels", "state"}
    buffers = _record(env, SEEDS[:2], 5)
    _create("test/pixels-v0", buffers, env=env, jpeg_encoding=False)
    reader = _read("test/pixels-v0")
    try:
        described = reader.describe()
        assert described["frames"] == "observations" and described["camera"] == "pixels"
        assert described["state_keys"] == ["state"] and reader._env is None  # nothing replayed
        raws = list(reader.episodes())
    finally:
        reader.close()
    for raw, buffer in zip(raws, buffers, strict=True):
        observations = buffer.observations
        assert isinstance(observations, dict)
        assert raw.pixels.shape == (6, 24, 24, 3)
        np.testing.assert_array_equal(raw.pixels, observations["pixels"])
        np.testing.assert_array_equal(raw.states, observations["state"])
        np.testing.assert_array_equal(raw.actions, np.asarray(buffer.actions))

    bare = _read("test/pixels-v0", ImportOptions(state_key="", camera="pixels"))
    try:
        assert next(bare.episodes()).states.shape == (6, 0)
    finally:
        bare.close()
    # a dataset folder given by its path reads the same, and imports
    out = import_dataset(
        f"minari:{datasets / 'test' / 'pixels-v0'}", tmp_path / "px.h5", ImportOptions(16)
    )
    with ExperienceDataset.open(out) as dataset:
        assert dataset.num_episodes == 2 and dataset.episode(0).pixels.shape == (6, 16, 16, 3)
    folder = datasets / "test" / "pixels-v0"
    assert detect_format(folder) == "minari" == detect_format(folder / "data")  # no prefix needed


@pytest.mark.reliability("datasets")
def test_bad_minari_input_is_one_line_naming_the_dataset(datasets: Path, tmp_path: Path) -> None:
    def refused(source: str, words: str) -> None:
        with pytest.raises(DatasetError, match=words) as error:
            import_dataset(source, tmp_path / "out.h5")
        message = str(error.value)
        assert source in message and "\n" not in message, message
        assert not (tmp_path / "out.h5").exists()

    refused("minari:D4RL/pointmaze/umaze-v2", "minari download D4RL/pointmaze/umaze-v2")

    cartpole = gym.make("CartPole-v1", max_episode_steps=4)
    _create("cartpole-v0", _record(cartpole, (1,), 4), env=cartpole)
    refused("minari:cartpole-v0", "discrete")

    _create(
        "no-env-v0",
        _record(_pendulum(), (1,), 3),
        observation_space=_pendulum().observation_space,
        action_space=_pendulum().action_space,
    )
    refused("minari:no-env-v0", "holds no frames")

    _create("damaged-v0", _record(_pendulum(), SEEDS, STEPS), env=_pendulum())
    main = datasets / "damaged-v0" / "data" / "main_data.hdf5"
    main.write_bytes(main.read_bytes()[: main.stat().st_size // 2])
    refused("minari:damaged-v0", "main_data.hdf5 cannot be read")

    (tmp_path / "folder").mkdir()
    refused(f"minari:{tmp_path / 'folder'}", "not a Minari dataset")
    refused(f"minari:{tmp_path / 'missing'}", "no such Minari dataset folder")
