"""`info["is_success"]` for a Gymnasium env, from whichever key or signal the env uses.

In this order: the env's own `info["is_success"]` (gymnasium-robotics' Fetch and Hand envs), else
`info["success"]` (PointMaze, OGBench), else `terminated` where the env ends an episode exactly
when its task is solved (stable-worldmodel's envs: the known families below, or any env with
`success_from_terminated=True`), else False. Every raw key of the env's info is kept.
"""

from __future__ import annotations

from typing import Any

# (env id prefix, why its `terminated` means success)
SUCCESS_FROM_TERMINATED = (
    ("swm/", "stable-worldmodel's envs terminate exactly when the task is solved"),
)


def terminated_means_success(env_id: str | None) -> bool:
    """Whether the env `env_id` is of a family known to signal success through `terminated`."""
    return env_id is not None and any(env_id.startswith(p) for p, _ in SUCCESS_FROM_TERMINATED)


def with_success(info: dict[str, Any], terminated: bool, from_terminated: bool) -> dict[str, Any]:
    """A copy of `info` with a bool `"is_success"` (see the module docstring for the order)."""
    out = dict(info)
    if "is_success" in out:
        success = bool(out["is_success"])
    elif "success" in out:
        success = bool(out["success"])
    else:
        success = bool(terminated) and from_terminated
    out["is_success"] = success
    return out
