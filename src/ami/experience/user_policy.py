"""A collection policy of the user's own, named `module:callable` (e.g. `mypkg.policies:make`).

The callable is imported from its module and called as `callable(action_dim, env)` with the
action size `A` and the env collection steps; it returns a `Policy` (an object with
`reset(rng)` and `__call__(obs, info) -> float32 [A]`). This is the way to collect with an env's
own scripted expert, e.g. a stable-worldmodel world's: a three-line module whose callable wraps
that expert in `reset`/`__call__`. The name (not the code) is what a dataset records, in its
meta's `collect.policy`. Every failure to load is one `ConfigError` line.

An env's own expert, in a module on the Python path (`--policy mypkg.policies:make_policy`);
`expert_action()` stands for whatever the env offers, in the env's own action units, which the
`gym:` adapter maps to ami's `[-1, 1]` with `unit_action`:

    class EnvExpert:
        def __init__(self, env):
            self.env = env

        def reset(self, rng):
            self.rng = rng  # all of the episode's randomness, for determinism

        def __call__(self, obs, info):
            return self.env.unit_action(self.env.unwrapped.expert_action())

    def make_policy(action_dim, env):
        return EnvExpert(env)
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import gymnasium

from ami.errors import AmiError, ConfigError
from ami.experience.policies import Policy

_NAME = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_user_policy(name: str) -> bool:
    """Whether `name` is written as `module:callable` (a user's policy, not a built-in one)."""
    return ":" in name


def require_user_policy_name(owner: str, name: str) -> None:
    """Raise `ConfigError` unless `name` is `module:callable` with dotted Python names."""
    if not _NAME.match(name):
        raise ConfigError(
            f"{owner}.policy {name!r} must be a built-in policy or module:callable "
            "(dotted Python names, e.g. mypkg.policies:make_policy)"
        )


def load_user_policy(name: str, action_dim: int, env: gymnasium.Env) -> Policy:
    """The policy `module:callable(action_dim, env)` returns.

    Raises:
        ConfigError: the module cannot be imported, lacks the attribute, the attribute is not
            callable, calling it fails, or what it returns lacks `reset` or `__call__`.
    """
    require_user_policy_name("CollectConfig", name)
    module_name, attribute = name.split(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"policy {name!r}: cannot import module {module_name!r} ({exc})") from exc
    except Exception as exc:  # the user's module failed while importing
        raise ConfigError(
            f"policy {name!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"policy {name!r}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(
            f"policy {name!r}: {attribute!r} is a {type(target).__name__}, not a callable"
        )
    try:
        policy = target(action_dim, env)
    except AmiError:
        raise
    except Exception as exc:  # the user's code failed: one line, the cause chained
        raise ConfigError(
            f"policy {name!r}: calling {attribute}(action_dim, env) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    missing = [
        method for method in ("reset", "__call__") if not callable(getattr(policy, method, None))
    ]
    if missing:
        raise ConfigError(
            f"policy {name!r}: {attribute} returned a {type(policy).__name__}, which lacks "
            f"{' and '.join(missing)} (a Policy has reset(rng) and __call__(obs, info))"
        )
    return policy  # type: ignore[no-any-return]
