"""stable-worldmodel's envs and their scripted experts, as ami collection policies.

`--policy benchmarks.swm_experts:two_room_expert` collects `gym:stable_worldmodel:swm/TwoRoom-v1`
with swm's `ExpertPolicy` (through the nearest door that fits, then to the target), and
`benchmarks.swm_experts:push_t_weak_policy` collects `swm/PushT-v1` with swm's `WeakPolicy`
(random moves of the pusher within 100 px of the block), the policies swm names for these envs.
swm's actions are already in [-1, 1]; the adapter's `unit_action` maps them all the same.

torchvision: `import stable_worldmodel` imports `torchvision.tv_tensors` (its world-model
policy wraps frames in `tv_tensors.Image`), though neither these envs nor their experts use it.
No CPU torchvision build for ami's torch is reachable from this machine, and the PyPI wheel is a
CUDA build that fails to import beside a CPU torch (`operator torchvision::nms does not exist`),
so `.venv-swm` has no torchvision; importing this module then registers an empty `torchvision`
(and `torchvision.tv_tensors`) placeholder first, which raises `ModuleNotFoundError` on any
attribute use. Where a real torchvision imports, it is used and nothing is registered.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings
from typing import Any

import gymnasium
import numpy as np

from ami.errors import ConfigError, DependencyMissingError

SWM_INSTALL = "make bench-swm (it builds .venv-swm with stable-worldmodel)"


class _Placeholder(types.ModuleType):
    """A module that is there to be imported, and refuses every attribute use."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f"{self.__name__}.{name}: torchvision is not installed in this environment (an "
            "empty placeholder stands in so that stable_worldmodel's envs import)"
        )


def _register_torchvision_placeholder() -> bool:
    """Register the placeholder where torchvision is not installed; whether it was registered."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return False
    package = _Placeholder("torchvision")
    package.__path__ = []  # a package, so that `from torchvision import tv_tensors` resolves
    tv_tensors = _Placeholder("torchvision.tv_tensors")
    package.__dict__["tv_tensors"] = tv_tensors
    sys.modules["torchvision"] = package
    sys.modules["torchvision.tv_tensors"] = tv_tensors
    return True


TORCHVISION_PLACEHOLDER = _register_torchvision_placeholder()


def import_swm() -> types.ModuleType:
    """`stable_worldmodel`, imported (its envs registered with Gymnasium).

    Raises:
        DependencyMissingError: stable-worldmodel or a package its envs import is missing.
    """
    try:
        with warnings.catch_warnings():  # ale-py and others of the [env] extra: absent by design
            warnings.simplefilter("ignore")
            return importlib.import_module("stable_worldmodel")
    except ImportError as exc:
        raise DependencyMissingError(
            f"stable_worldmodel cannot be imported ({exc}); {SWM_INSTALL}"
        ) from None


class SwmPolicy:
    """An swm `BasePolicy` (its `get_action(info)`) as an ami `Policy` of the adapted env.

    Args:
        expert: the swm policy, its env already set to the adapter's wrapped env.
        adapter: the `GymnasiumAdapter` collection steps (for `unit_action`).
    """

    def __init__(self, expert: Any, adapter: Any):
        """Wrap `expert` (see the class docstring)."""
        self.expert = expert
        self.adapter = adapter

    def reset(self, rng: np.random.Generator) -> None:
        """Seed the expert's own generator from `rng` (the episode's randomness)."""
        self.expert.set_seed(int(rng.integers(2**31)))
        self.expert._last_action = None  # TwoRoom's expert repeats its last action by chance

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The expert's action for the env's raw `info` (swm's policies read it), float32 [A]."""
        action = np.asarray(self.expert.get_action(info), np.float32).reshape(-1)
        return self.adapter.unit_action(action)  # type: ignore[no-any-return]


class _OneEnvVector:
    """One env seen as a vector of one, for swm policies that index `actions[i]` always."""

    def __init__(self, env: gymnasium.Env):
        """Wrap `env`: `envs`, a batched action space `[1, A]` and the env's spec."""
        self.envs = [env]
        self.spec = env.spec
        shape = (1, *(env.action_space.shape or ()))
        self.action_space = gymnasium.spaces.Box(-np.inf, np.inf, shape, np.float32)


def _adapted(
    env: gymnasium.Env, action_dim: int, policy_class: str, vectorised: bool = False
) -> SwmPolicy:
    """swm's policy `policy_class` (module:Class) on the adapter `env.unwrapped`."""
    import_swm()
    adapter = env.unwrapped
    module_name, class_name = policy_class.split(":")
    expert = getattr(importlib.import_module(module_name), class_name)()
    wrapped = adapter.env  # type: ignore[attr-defined]
    expert.set_env(_OneEnvVector(wrapped) if vectorised else wrapped)
    if int(np.prod(adapter.action_space.shape or ())) != action_dim:
        raise ConfigError(f"{policy_class} acts in {adapter.action_space}, not [A]")
    return SwmPolicy(expert, adapter)


def two_room_expert(action_dim: int, env: gymnasium.Env) -> SwmPolicy:
    """swm's TwoRoom `ExpertPolicy` (no action noise) as a collection policy."""
    return _adapted(env, action_dim, "stable_worldmodel.envs.two_room.expert_policy:ExpertPolicy")


def push_t_weak_policy(action_dim: int, env: gymnasium.Env) -> SwmPolicy:
    """swm's PushT `WeakPolicy` (moves within 100 px of the block) as a collection policy."""
    return _adapted(
        env, action_dim, "stable_worldmodel.envs.pusht.expert_policy:WeakPolicy", vectorised=True
    )
