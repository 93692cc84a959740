"""Minari datasets (`minari:D4RL/pointmaze/umaze-v2`, or `minari:PATH` to a dataset folder).

A dataset is named by its id, looked up in Minari's local datasets folder
(`MINARI_DATASETS_PATH`, else `~/.minari/datasets`), or by the path of its folder (the one
holding `data/main_data.hdf5` and `data/metadata.json`, or that `data` folder itself). ami never
downloads: a dataset that is not local is one line naming `minari download ID`. The dataset is
read with the `minari` package's own API (`pip install 'ami[minari]'`).

Minari's convention is ami's: an episode of `n` steps holds `n + 1` observations and `n`
actions, action `t` leading from observation `t` to `t + 1`. An episode of no step is skipped.

Frames:

- **Image observations** (uint8 `[n + 1, H, W, 3]`, the observation itself or a key of a Dict
  observation, chosen by the `camera` option where there are several) are the frames, as they
  are.
- **State-only datasets** (most of Minari's) are *replayed* for their frames: the env is
  recovered (`dataset.recover_environment(render_mode="rgb_array")`, `gymnasium_robotics`
  imported first where installed), reset with the episode's recorded seed (and reset options),
  stepped with the recorded actions, and rendered at every observation. The replayed
  observations must equal the recorded ones: an episode is refused where, at any step, the
  largest absolute difference exceeds `REPLAY_TOLERANCE` (1e-5) times the episode's scale,
  `max(1, largest |recorded value|)`, where the replay ends before the recording does, or
  where no seed was recorded (its start cannot be reproduced). The check runs without
  rendering when the reader opens, so the refused episodes are known (and counted in
  `describe()["refused_episodes"]`, the first reasons in `describe()["refusals"]`) before
  anything is written; they are skipped, and a dataset whose every episode is refused is a
  `DatasetError` naming the first reason. A replay that differs when rendered from its check
  (a nondeterministic env) is a `DatasetError`.
- A dataset with neither images nor an env to recover holds no frames: a `DatasetError`.

States: the flat observation vector (a Dict or Tuple observation flattened in its space's key
order, image keys left out), or the observation key the `state_key` option names ("" for none).
Actions: the dataset's `action_space` must be a Box (ami plans continuous actions); bounds
within [-1, 1] keep the actions as they are, other finite bounds are the stated scaling,
infinite ones give way to the actions' measured bounds.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ami.errors import DatasetError, DependencyMissingError
from ami.experience.sources.common import ActionScaling, ImportOptions, RawEpisode

REPLAY_TOLERANCE = 1e-5  # of max(1, largest |recorded observation value|) of the episode
MAX_REFUSALS_LISTED = 5  # refusal reasons recorded in describe()
# import name -> what to pip install, for the packages whose envs Minari's datasets record
_PIP_NAMES = {
    "gymnasium_robotics": "'ami[robotics]' (gymnasium-robotics)",
    "mujoco": "mujoco",
    "pygame": "pygame (or gymnasium[classic-control])",
    "Box2D": "box2d-py (or gymnasium[box2d])",
}

Leaf = tuple[tuple[str | int, ...], Any]  # (where in the observation, its gymnasium space)


def _minari() -> ModuleType:
    """The `minari` package, or a `DependencyMissingError` saying how to install it."""
    try:
        return importlib.import_module("minari")
    except ImportError as exc:
        raise DependencyMissingError(
            f"reading Minari datasets needs the minari package ({exc}); pip install 'ami[minari]'"
        ) from None


def datasets_folder() -> Path:
    """Minari's local datasets folder: `MINARI_DATASETS_PATH`, else `~/.minari/datasets`."""
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _leaves(space: Any, where: tuple[str | int, ...] = ()) -> list[Leaf]:
    """The leaf spaces of a (nested) Dict / Tuple space, in the space's key order."""
    import gymnasium

    if isinstance(space, gymnasium.spaces.Dict):
        return [leaf for key, sub in space.spaces.items() for leaf in _leaves(sub, (*where, key))]
    if isinstance(space, gymnasium.spaces.Tuple):
        return [leaf for i, sub in enumerate(space.spaces) for leaf in _leaves(sub, (*where, i))]
    return [(where, space)]


def _name(where: tuple[str | int, ...]) -> str:
    """A key's name (`pixels`, nested `a/b`); the observation itself is `observations`."""
    return "/".join(str(part) for part in where) or "observations"


def _is_image(space: Any) -> bool:
    shape: tuple[int, ...] = tuple(getattr(space, "shape", None) or ())
    return getattr(space, "dtype", None) == np.uint8 and len(shape) == 3 and shape[2] == 3


def _is_numeric(space: Any) -> bool:
    dtype = getattr(space, "dtype", None)
    return dtype is not None and np.dtype(dtype).kind in "biuf"


def _value(observation: Any, where: tuple[str | int, ...]) -> np.ndarray:
    for part in where:
        observation = observation[part]
    return np.asarray(observation)


class MinariReader:
    """An open Minari dataset; see the module docstring for the frames, states and replay."""

    format = "minari"

    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = path
        self.name = f"minari:{path}"
        self._env: Any = None
        self._iterator: Any = None
        minari = _minari()
        try:
            self._open(minari)
            self._check(options)
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------

    def _open(self, minari: ModuleType) -> None:
        """Resolve the id or folder and load it with `minari` (never downloading)."""
        folder = self.path.expanduser()
        if folder.is_dir():
            data = folder / "data" if (folder / "data").is_dir() else folder
            if not (data / "metadata.json").is_file():
                raise DatasetError(
                    f"{self.name}: the folder holds no data/metadata.json; not a Minari dataset"
                )
            if not (data / "main_data.hdf5").is_file():
                raise DatasetError(
                    f"{self.name}: no data/main_data.hdf5 (ami reads Minari's HDF5 datasets)"
                )
            self.dataset_folder = data.parent
            load = lambda: minari.MinariDataset(data)  # noqa: E731
        else:
            dataset_id = str(self.path)
            root = datasets_folder()
            local = root / dataset_id
            if folder.is_absolute() or str(self.path).startswith((".", "~")):
                raise DatasetError(f"{self.name}: no such Minari dataset folder")
            if not (local / "data" / "metadata.json").is_file():
                raise DatasetError(
                    f"{self.name}: not in the local Minari datasets folder {root} "
                    f"(MINARI_DATASETS_PATH); ami never downloads: run `minari download "
                    f"{dataset_id}` first, or give the dataset's folder"
                )
            self.dataset_folder = local
            load = lambda: minari.load_dataset(dataset_id, download=False)  # noqa: E731
        try:
            self._dataset = load()
        except Exception as exc:  # minari raises ValueError, KeyError, assertions, h5py errors
            raise DatasetError(
                f"{self.name}: Minari cannot load it ({type(exc).__name__}: {_one_line(exc)})"
            ) from None
        try:
            indices = [int(i) for i in self._dataset.episode_indices]
            metadata = list(self._dataset.storage.get_episode_metadata(indices))
        except Exception as exc:  # a damaged main_data.hdf5: OSError, KeyError
            raise DatasetError(
                f"{self.name}: main_data.hdf5 cannot be read ({type(exc).__name__}: "
                f"{_one_line(exc)})"
            ) from None
        self._episode_meta = dict(zip(indices, metadata, strict=True))
        self._indices = indices

    def _check(self, options: ImportOptions) -> None:
        """Pick the frames, states and actions; refuse what ami cannot learn from."""
        import gymnasium

        dataset, name = self._dataset, self.name
        if options.action_key not in (None, "actions"):
            raise DatasetError(
                f"{name}: a Minari dataset has one action column, 'actions' (not "
                f"{options.action_key!r})"
            )
        space = dataset.action_space
        if isinstance(
            space,
            gymnasium.spaces.Discrete
            | gymnasium.spaces.MultiDiscrete
            | gymnasium.spaces.MultiBinary,
        ):
            raise DatasetError(
                f"{name}: its actions are discrete ({space}); ami plans continuous actions "
                "(a Box action space)"
            )
        if not isinstance(space, gymnasium.spaces.Box):
            raise DatasetError(
                f"{name}: its action space {space} is not a Box; ami plans continuous actions"
            )
        self.action_size = int(np.prod(space.shape, dtype=np.int64))
        self._low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        self._high = np.asarray(space.high, dtype=np.float64).reshape(-1)

        leaves = _leaves(dataset.observation_space)
        images = [leaf for leaf in leaves if _is_image(leaf[1])]
        numeric = [leaf for leaf in leaves if _is_numeric(leaf[1]) and not _is_image(leaf[1])]
        self._numeric = numeric
        self.camera: str | None = None
        self._image: tuple[str | int, ...] | None = None
        if options.camera is not None:
            found = [leaf for leaf in images if _name(leaf[0]) == options.camera]
            if not found:
                listed = ", ".join(_name(w) for w, _ in images) or "none"
                raise DatasetError(
                    f"{name}: no image observation {options.camera!r} (image keys: {listed})"
                )
            self._image = found[0][0]
        elif len(images) == 1:
            self._image = images[0][0]
        elif len(images) > 1:
            listed = ", ".join(_name(w) for w, _ in images)
            raise DatasetError(
                f"{name}: several image observations ({listed}); name one with the camera option"
            )
        if self._image is not None:
            self.camera = _name(self._image)
        self.frames_from = "observations" if self._image is not None else "replay"

        if options.state_key is None:
            self._states = numeric
        elif options.state_key == "":
            self._states = []
        else:
            key = options.state_key
            self._states = [
                leaf
                for leaf in numeric
                if _name(leaf[0]) == key or _name(leaf[0]).startswith(key + "/")
            ]
            if not self._states:
                listed = ", ".join(_name(w) for w, _ in numeric) or "none"
                raise DatasetError(
                    f"{name}: no observation key {key!r} for the states (keys: {listed})"
                )
        self.state_keys = [_name(w) for w, _ in self._states]

        long_enough = [i for i in self._indices if self._steps(i) >= 1]
        self.refusals: list[str] = []
        self.refused = 0
        if self._image is None:
            self._recover_env()
            self.selected = self._checked(long_enough, options.max_episodes)
        else:
            self.selected = long_enough[: options.max_episodes]
        if not self.selected:
            if self.refused:
                raise DatasetError(
                    f"{name}: every episode's replay was refused ({self.refused}); the first: "
                    f"{self.refusals[0]}"
                )
            raise DatasetError(f"{name}: no episode has a step")

    def _steps(self, index: int) -> int:
        return int(self._episode_meta[index].get("total_steps", 0))

    def _recover_env(self) -> None:
        """The dataset's env, made to render rgb_array frames, or why there is none."""
        import gymnasium

        spec = self._dataset.env_spec
        if spec is None:
            raise DatasetError(
                f"{self.name}: the dataset holds no frames: its observations are not images "
                "(uint8 [H, W, 3]) and it records no env to replay them in"
            )
        entry = spec.entry_point if isinstance(spec.entry_point, str) else ""
        if entry.startswith("gymnasium_robotics") or str(spec.id).startswith(
            ("PointMaze", "AntMaze", "Adroit", "FrankaKitchen", "Fetch", "HandManipulate")
        ):
            with contextlib.suppress(ImportError):  # registers its envs; missing: named below
                importlib.import_module("gymnasium_robotics")
        what = f"{self.name}: replaying its env {spec.id} for frames"
        try:
            self._env = self._dataset.recover_environment(render_mode="rgb_array")
        except gymnasium.error.DependencyNotInstalled as exc:
            raise DependencyMissingError(f"{what} needs {_one_line(exc)}") from None
        except ImportError as exc:
            missing = (exc.name or "").split(".")[0]
            package = _PIP_NAMES.get(missing, f"the package that provides {missing!r}")
            raise DependencyMissingError(
                f"{what} needs the Python module {missing!r} ({_one_line(exc)}); pip install "
                f"{package}"
            ) from None
        except Exception as exc:  # not registered, a bad render mode, a broken spec
            raise DatasetError(
                f"{what}: the env cannot be made ({type(exc).__name__}: {_one_line(exc)})"
            ) from None

    # -- reading ---------------------------------------------------------------------------

    def _read(self, indices: list[int]) -> Iterator[tuple[int, np.ndarray, Any]]:
        """`(index, actions [n, A], observations)` of each episode, read one at a time."""
        self._iterator = iter(self._dataset.iterate_episodes(indices))
        for index in indices:
            try:
                episode = next(self._iterator)
                actions = np.asarray(episode.actions, dtype=np.float64)
                observations = episode.observations
            except Exception as exc:  # h5py, JPEG decoding, a missing group
                raise DatasetError(
                    f"{self.name}: episode {index} cannot be read ({type(exc).__name__}: "
                    f"{_one_line(exc)})"
                ) from None
            steps = actions.shape[0] if actions.ndim else 0
            if actions.size != steps * self.action_size:
                raise DatasetError(
                    f"{self.name}: episode {index}: actions {list(actions.shape)} do not fit the "
                    f"action space of size {self.action_size}"
                )
            keys = [where for where, _ in self._numeric]
            if self._image is not None:
                keys.append(self._image)
            for where in keys:
                try:
                    value = _value(observations, where)
                except (KeyError, IndexError, TypeError):
                    raise DatasetError(
                        f"{self.name}: episode {index} has no observation '{_name(where)}'"
                    ) from None
                rows = value.shape[0] if value.ndim else 0
                if rows != steps + 1:
                    raise DatasetError(
                        f"{self.name}: episode {index}: {steps} actions need {steps + 1} "
                        f"observations, '{_name(where)}' has {rows}"
                    )
            yield index, actions.reshape(steps, self.action_size), observations

    def _flat(self, observations: Any, leaves: list[Leaf], rows: int) -> np.ndarray:
        """The leaves of `observations` (`rows` of them) flattened side by side, float64."""
        parts = [_value(observations, w).reshape(rows, -1).astype(np.float64) for w, _ in leaves]
        return np.concatenate(parts, axis=1) if parts else np.zeros((rows, 0))

    def _replay(
        self, index: int, actions: np.ndarray, recorded: np.ndarray, render: bool
    ) -> tuple[str | None, list[np.ndarray]]:
        """Replay episode `index`; `(why it is refused or None, its frames if rendered)`."""
        meta = self._episode_meta[index]
        seed = meta.get("seed")
        if seed is None:
            return "no seed was recorded, so its start cannot be reproduced", []
        env, frames = self._env, []
        options = meta.get("options") or None
        scale = max(1.0, float(np.abs(recorded).max()) if recorded.size else 1.0)
        tolerance = REPLAY_TOLERANCE * scale
        try:
            observation, _ = env.reset(seed=int(seed), options=options)
            for t in range(actions.shape[0] + 1):
                if t:
                    step = np.asarray(actions[t - 1], dtype=env.action_space.dtype)
                    observation, _, terminated, truncated, _ = env.step(
                        step.reshape(env.action_space.shape)
                    )
                replayed = self._flat(_as_rows(observation), self._numeric, 1)[0]
                drift = float(np.abs(replayed - recorded[t]).max()) if replayed.size else 0.0
                if not drift <= tolerance:
                    return (
                        f"the replay drifts from the recorded observations at step {t} (largest "
                        f"absolute difference {drift:.3g} > tolerance {tolerance:.3g})"
                    ), []
                if render:
                    frames.append(self._frame(env, index, t))
                if t and t < actions.shape[0] and (terminated or truncated):
                    return f"the replay ended at step {t} of {actions.shape[0]}", []
        except DatasetError:
            raise
        except Exception as exc:  # the env refuses the recorded action or options
            raise DatasetError(
                f"{self.name}: episode {index}: the replay failed ({type(exc).__name__}: "
                f"{_one_line(exc)})"
            ) from None
        return None, frames

    def _frame(self, env: Any, index: int, t: int) -> np.ndarray:
        frame = env.render()
        frame = None if frame is None else np.asarray(frame)
        if frame is None or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
            got = "nothing" if frame is None else f"{frame.dtype} {list(frame.shape)}"
            raise DatasetError(
                f"{self.name}: episode {index} step {t}: its env renders {got}, not an rgb_array "
                "frame (uint8 [H, W, 3])"
            )
        return frame

    def _checked(self, indices: list[int], limit: int | None) -> list[int]:
        """The episodes whose replay reproduces the recording (no rendering), up to `limit`."""
        accepted: list[int] = []
        if limit is not None and limit <= 0:
            return accepted
        for index, actions, observations in self._read(indices):
            recorded = self._flat(observations, self._numeric, actions.shape[0] + 1)
            why, _ = self._replay(index, actions, recorded, render=False)
            if why is None:
                accepted.append(index)
                if limit is not None and len(accepted) >= limit:
                    break
            else:
                self.refused += 1
                if len(self.refusals) < MAX_REFUSALS_LISTED:
                    self.refusals.append(f"episode {index}: {why}")
        self._close_iterator()
        return accepted

    # -- the reader's contract -------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        """Episodes to import (those of a step or more, replayable where replayed)."""
        return len(self.selected)

    def action_scaling(self) -> ActionScaling:
        """[-1, 1] kept for a Box within it, else its stated bounds (measured where infinite)."""
        low, high = self._low, self._high
        if np.isfinite(low).all() and np.isfinite(high).all():
            if low.min() >= -1.0 and high.max() <= 1.0:
                return ActionScaling.unit(self.action_size)
            return ActionScaling(tuple(low.tolist()), tuple(high.tolist()), source="stated")
        actions = np.concatenate([a for _, a, _ in self._read(self.selected)])
        self._close_iterator()
        actions = actions[np.isfinite(actions).all(axis=1)]
        if actions.size == 0:
            raise DatasetError(f"{self.name}: its actions hold no finite value")
        return ActionScaling.for_actions(actions)

    def episodes(self) -> Iterator[RawEpisode]:
        """The selected episodes in the dataset's order, frames read or replayed."""
        for index, actions, observations in self._read(self.selected):
            rows = actions.shape[0] + 1
            states = self._flat(observations, self._states, rows)
            if self._image is not None:
                pixels = _value(observations, self._image)
            else:
                recorded = self._flat(observations, self._numeric, rows)
                why, frames = self._replay(index, actions, recorded, render=True)
                if why is not None:
                    raise DatasetError(
                        f"{self.name}: episode {index}: its env is not deterministic: {why}, "
                        "though its replay was checked when the dataset was opened"
                    )
                pixels = np.stack(frames)
            yield RawEpisode(np.ascontiguousarray(pixels), actions, states, index)
        self._close_iterator()

    def describe(self) -> dict[str, Any]:
        """The dataset, where the frames come from, the keys read and the refused episodes."""
        spec = self._dataset.env_spec
        return {
            "dataset_id": str(self._dataset.id),
            "dataset_folder": str(self.dataset_folder),
            "minari_version": str(self._dataset.minari_version),
            "env_id": None if spec is None else str(spec.id),
            "frames": self.frames_from,
            "camera": self.camera,
            "state_keys": self.state_keys,
            "episodes_in_dataset": len(self._indices),
            "refused_episodes": self.refused,
            "refusals": list(self.refusals),
            "replay_tolerance": REPLAY_TOLERANCE if self._image is None else None,
        }

    def _close_iterator(self) -> None:
        if self._iterator is not None:
            with contextlib.suppress(Exception):
                self._iterator.close()
            self._iterator = None

    def close(self) -> None:
        """Close the episode reader and the replay env."""
        self._close_iterator()
        if self._env is not None:
            with contextlib.suppress(Exception):
                self._env.close()
            self._env = None


def _as_rows(observation: Any) -> Any:
    """One observation as a batch of one row (for `_flat`)."""
    if isinstance(observation, dict):
        return {key: _as_rows(value) for key, value in observation.items()}
    if isinstance(observation, tuple):
        return tuple(_as_rows(value) for value in observation)
    return np.asarray(observation)[None]
