"""Collect episodes from a world with a scripted policy, deterministically under a seed.

Episode `i` resets the world with seed `seed + i` and the policy with the generator
`np.random.default_rng([seed, i])` (a seed sequence distinct from the world's own), so any episode
can be regenerated alone, and so can any range of episodes: `collect_to_file(..., workers=n)` lets n
processes collect contiguous ranges and writes their episodes in order, into the very file a
serial run writes. TwoRoom accepts steps after its goal is reached, so its episodes always
run `steps_per_episode` steps; another env's episode ends where it reports terminated or truncated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import multiprocessing.queues
import os
import queue
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from ami.config import config_to_dict, require_choice, require_fits_memory, require_in_range
from ami.errors import ConfigError, ShapeError
from ami.experience.cube_expert import CubeExpert
from ami.experience.dataset import Episode, write_dataset
from ami.experience.exploration import ColoredNoisePolicy, HeldRandomPolicy
from ami.experience.maze_expert import MazeExpert
from ami.experience.novelty import NoveltyPolicy
from ami.experience.policies import MixedPolicy, Policy, RandomPolicy, TwoRoomExpert
from ami.experience.push_t_expert import PushTExpert
from ami.experience.reacher_expert import ReacherExpert
from ami.experience.user_policy import is_user_policy, load_user_policy, require_user_policy_name
from ami.progress import progress_bar
from ami.worlds import make
from ami.worlds.cube import Cube
from ami.worlds.maze import Maze
from ami.worlds.push_t import PushT
from ami.worlds.reacher import Reacher
from ami.worlds.two_room import TwoRoom

POLICIES = ("expert", "random", "mixed", "held", "colored", "novelty")
EXPERT_WORLDS = ("two_room", "maze", "push_t", "reacher", "cube")


@dataclass(frozen=True)
class CollectConfig:
    """What to collect.

    Attributes:
        world: registry name of the world, e.g. "two_room".
        episodes: number of episodes (> 0).
        steps_per_episode: env steps per episode (> 0); an episode has one more frame.
        policy: "expert" (worlds with a scripted expert only), "random", "mixed" (expert or
            random per episode), "held" (`HeldRandomPolicy`), "colored" (pink noise,
            `ColoredNoisePolicy`), "novelty" (`NoveltyPolicy`), or a policy of the user's as
            "module:callable" (`ami.experience.user_policy`; e.g. an env's own expert).
        expert_fraction: for "mixed", the probability that an episode uses the expert.
        seed: episode `i` uses seed `seed + i` (see the module docstring).
        image_size: side of the rendered frames in pixels.
        world_options: more settings of the world's config, as `make(world, **options)` takes
            them (e.g. `{"target_visible": False}` for Reacher); the size is `image_size`.
    """

    world: str
    episodes: int
    steps_per_episode: int
    policy: str
    expert_fraction: float = 0.5
    seed: int = 0
    image_size: int = 64
    world_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = "CollectConfig"
        if not isinstance(self.world_options, dict) or not all(
            isinstance(key, str) for key in self.world_options
        ):
            raise ConfigError(
                f"{owner}.world_options must be a mapping of setting names to values, "
                f"got {self.world_options!r}"
            )
        if "size" in self.world_options:
            raise ConfigError(f"{owner}.world_options must not set 'size'; use image_size")
        if not isinstance(self.world, str) or not self.world:
            raise ConfigError(f"{owner}.world must be a non-empty string, got {self.world!r}")
        for name in ("episodes", "steps_per_episode", "image_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{owner}.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"{owner}.seed must be a non-negative integer, got {self.seed!r}")
        frames = self.steps_per_episode + 1  # one episode's frames are held until it is written
        require_fits_memory(
            f"{owner} with image_size={self.image_size} and steps_per_episode="
            f"{self.steps_per_episode} ({frames} frames per episode)",
            frames * 3 * self.image_size**2,
        )
        if not isinstance(self.policy, str):
            raise ConfigError(f"{owner}.policy must be a string, got {self.policy!r}")
        if is_user_policy(self.policy):
            require_user_policy_name(owner, self.policy)
        else:
            require_choice(owner, "policy", self.policy, POLICIES)
        require_in_range(owner, "expert_fraction", self.expert_fraction, 0.0, 1.0)
        if self.policy in ("expert", "mixed") and self.world not in EXPERT_WORLDS:
            raise ConfigError(
                f"{owner}.policy {self.policy!r} needs a scripted expert, which only "
                f"{list(EXPERT_WORLDS)} have; world is {self.world!r} (use 'held', 'colored', "
                "'novelty', 'random', or an expert of your own as module:callable)"
            )


def make_world(config: CollectConfig) -> gymnasium.Env:
    """The world `config` collects from: its size and options."""
    return make(config.world, size=config.image_size, **config.world_options)


def collect(
    config: CollectConfig,
    env_factory: Callable[[], gymnasium.Env] | None = None,
    progress: bool = True,
) -> Generator[Episode, None, None]:
    """Episodes of `config.policy` acting in the world, one at a time.

    Args:
        config: what to collect.
        env_factory: builds the env; by default `ami.worlds.make` with the world and image size.
        progress: show a progress bar over episodes while iterating.

    Returns:
        An iterator of `config.episodes` episodes (pixels `[L+1, h, w, 3]`, with `L` =
        `steps_per_episode` unless a non-TwoRoom env ended the episode early).

    Raises:
        ConfigError: the expert was asked for but the env is not a TwoRoom.
    """
    env = env_factory() if env_factory is not None else make_world(config)
    policy = _policy(config, env)
    return _episodes(config, env, policy, progress)


def collect_to_file(
    config: CollectConfig, path: str | os.PathLike[str], progress: bool = True, workers: int = 1
) -> Path:
    """Collect with `config` into a new dataset file at `path` (atomic); returns the path.

    The file's meta holds `world`, `collect` (this config) and `world_config` (the world's config
    as a dict, when it has a dataclass config). With `workers > 1`, that many processes (this one
    and `workers - 1` spawned ones) collect contiguous ranges of episodes, each episode with its
    own seeds; this process writes them in episode order, so the file is identical to a serial
    run's. Spawned workers pay an interpreter start and imports (seconds), and compressing the
    frames stays in this process: it pays off for thousands of episodes, not dozens.

    Raises:
        ConfigError: `workers` is not a positive integer.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    env = make_world(config)
    world_config = getattr(env.unwrapped, "config", None)
    meta = {
        "world": config.world,
        "collect": config_to_dict(config),
        "world_config": config_to_dict(world_config)
        if dataclasses.is_dataclass(world_config)
        else None,
    }
    workers = min(workers, config.episodes)
    if workers == 1:
        episodes = collect(config, env_factory=lambda: env, progress=progress)
    else:
        episodes = _collect_in_processes(config, env, workers, progress)
    with contextlib.closing(episodes):  # a failed write stops the workers at once
        return write_dataset(path, episodes, meta=meta, progress=False)


def _collect_in_processes(
    config: CollectConfig, env: gymnasium.Env, workers: int, progress: bool
) -> Generator[Episode, None, None]:
    """Episodes `0..E-1` in order: the first range collected here in `env`, the others by workers.

    Each spawned worker streams its episodes through its own queue while this process collects
    and writes its own range; the queues are then drained in order.
    """
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch threads
    bounds = np.linspace(0, config.episodes, workers + 1).round().astype(int)
    channels = [context.Queue() for _ in range(workers - 1)]
    processes = [
        context.Process(target=_collect_range, args=(config, int(lo), int(hi), channel))
        for lo, hi, channel in zip(bounds[1:-1], bounds[2:], channels, strict=True)
    ]
    for process in processes:
        process.start()
    description = f"collecting {config.world} ({workers} processes)"
    try:
        with progress_bar(progress, description, total=config.episodes) as advance:
            own = range(int(bounds[0]), int(bounds[1]))
            for episode in _episodes(config, env, _policy(config, env), False, own):
                yield episode
                advance(1)
            for process, channel in zip(processes, channels, strict=True):
                while (arrays := _receive(channel, process)) is not None:
                    yield Episode(*arrays)
                    advance(1)
                process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _collect_range(
    config: CollectConfig, start: int, stop: int, channel: multiprocessing.queues.Queue
) -> None:
    """Worker process: send episodes `start..stop-1` as `("episode", arrays)`, then `("done",)`."""
    try:
        env = make_world(config)
        policy = _policy(config, env)
        for episode in _episodes(config, env, policy, False, range(start, stop)):
            channel.put(("episode", (episode.pixels, episode.actions, episode.states)))
        channel.put(("done", None))
    except Exception as exc:  # handed to the parent, which raises it
        channel.put(("error", exc))


def _receive(
    channel: multiprocessing.queues.Queue, process: multiprocessing.process.BaseProcess
) -> tuple | None:
    """The next episode's arrays from a worker, None when it is done; raises what it raised."""
    while True:
        try:
            kind, payload = channel.get(timeout=1.0)
        except queue.Empty:
            if process.exitcode is not None:  # it died without saying so (killed, out of memory)
                raise RuntimeError(
                    f"a collection worker died with exit code {process.exitcode}"
                ) from None
            continue
        if kind == "error":
            raise payload
        return payload if kind == "episode" else None


def _policy(config: CollectConfig, env: gymnasium.Env) -> Policy:
    """The policy `config.policy` for `env`."""
    shape = env.action_space.shape
    if shape is None or len(shape) != 1:
        raise ShapeError(f"collection needs a flat Box action space, got {env.action_space}")
    action_dim = int(shape[0])
    if is_user_policy(config.policy):
        return load_user_policy(config.policy, action_dim, env)
    if config.policy == "held":
        return HeldRandomPolicy(action_dim)
    if config.policy == "colored":
        return ColoredNoisePolicy(action_dim, beta=1.0, horizon=max(config.steps_per_episode, 2))
    if config.policy == "novelty":
        return NoveltyPolicy(action_dim, state_dims=_place_dims(env))
    random = RandomPolicy(action_dim)
    if config.policy == "random":
        return random
    expert = _expert(env.unwrapped)
    if config.policy == "expert":
        return expert
    return MixedPolicy([expert, random], [config.expert_fraction, 1.0 - config.expert_fraction])


def _place_dims(env: gymnasium.Env) -> list[int] | None:
    """The state components `novelty` grids, by the world's `state_names`; None for all.

    A goal-conditioned env's `achieved_goal` components where it has them (Gymnasium-Robotics'
    convention: PointMaze's ball position), else every component but those named as velocities
    ("vel" in the name): a velocity follows the last action, so gridding it makes every new
    action look novel. A world without `state_names` (the built-in ones) grids all components.
    """
    names = [str(name) for name in getattr(env, "state_names", None) or ()]
    achieved = [i for i, name in enumerate(names) if name.startswith("achieved_goal")]
    if achieved:
        return achieved
    places = [i for i, name in enumerate(names) if "vel" not in name.lower()]
    return places if places and len(places) < len(names) else None


def _expert(world: gymnasium.Env) -> Policy:
    """The scripted expert of `world` (the worlds in `EXPERT_WORLDS` have one)."""
    if isinstance(world, TwoRoom):
        return TwoRoomExpert(world.config)
    if isinstance(world, Maze):
        return MazeExpert(world.config)
    if isinstance(world, PushT):
        return PushTExpert(world.config)
    if isinstance(world, Reacher):
        return ReacherExpert()
    if isinstance(world, Cube):
        return CubeExpert(world)
    raise ConfigError(f"no scripted expert for a {type(world).__name__} world")


def _episodes(
    config: CollectConfig,
    env: gymnasium.Env,
    policy: Policy,
    progress: bool,
    indices: range | None = None,
) -> Generator[Episode, None, None]:
    """Episodes `indices` (default: all of `config.episodes`), each from its own seeds."""
    steps_past_end = getattr(env.unwrapped, "steps_past_end", False)
    indices = range(config.episodes) if indices is None else indices
    with progress_bar(progress, f"collecting {config.world}", total=len(indices)) as advance:
        for i in indices:
            obs, info = env.reset(seed=config.seed + i)
            policy.reset(np.random.default_rng([config.seed, i]))
            pixels, states, actions = [np.array(obs["pixels"])], [np.array(obs["state"])], []
            for _ in range(config.steps_per_episode):
                action = policy(obs, info)
                obs, _, terminated, truncated, info = env.step(action)
                actions.append(action)
                pixels.append(np.array(obs["pixels"]))  # a copy: never alias env buffers
                states.append(np.array(obs["state"]))
                if (terminated or truncated) and not steps_past_end:
                    break
            yield Episode(
                pixels=np.stack(pixels),
                actions=np.stack(actions).astype(np.float32),
                states=np.stack(states).astype(np.float32),
            )
            advance(1)
