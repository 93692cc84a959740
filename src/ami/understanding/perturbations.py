"""Perturbation hooks: events that break (or, as controls, keep) physics at a chosen env step.

Events, applied to a live world through its public API only (the true state is set with
`reset(options=...)`, frames come from `render_at` or are post-processed):

- teleport: the agent (TwoRoom) or the block (PushT) jumps to a distant free place.
- wall_pass: TwoRoom: the agent, near the wall and away from the door, appears mirrored on the
  other side of the wall. PushT: the pusher, near the block, appears on the block's far side (it
  passed through the block, which did not move).
- vanish: the agent (TwoRoom) or the block (PushT) is no longer drawn, from the event on.
- colour_change (control): the frames' hue turns by 120 degrees (RGB → GBR) from the event on:
  the grey floor and walls stay, the agent, pusher and block change colour; nothing moves.
- unchanged (control): the world is reset to the very state it is in (the same code path as a
  teleport, with no change).

The cube world's hooks (`cube_events.CubeHooks`) stage teleport (the cube jumps across the
table), wall_pass (the cube sinks through the table) and the controls, not vanish. A world with a
settable simulator state (a `gym:` world) gets its hooks from `state_events.SimStateHooks`, passed
to `EventWorld` as `hooks`.

An event may not fit every moment (a wall pass needs the agent near the wall; PushT can set a
state only while the pusher does not touch the block); `EventWorld` applies it at the first env
step at or after the asked one where it fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium
import numpy as np

from ami.errors import ConfigError
from ami.understanding.cube_events import CUBE_EVENTS, CubeHooks
from ami.worlds.cube import Cube
from ami.worlds.push_t import ARENA, PushT
from ami.worlds.two_room import TwoRoom

HOOKED_WORLDS = ("two_room", "push_t", "cube")  # registry names of the worlds `hooks_for` knows
EVENTS = ("teleport", "wall_pass", "vanish", "colour_change", "unchanged")
IMPOSSIBLE = ("teleport", "wall_pass", "vanish")
CONTROLS = ("colour_change", "unchanged")
WORLD_EVENTS = {"two_room": EVENTS, "push_t": EVENTS, "cube": CUBE_EVENTS}  # what each stages
_TRIES = 64  # random draws before a state-changing event gives up at one step


class WorldHooks(Protocol):
    """What a world offers the events: its true state, setting it, and drawing it."""

    def state(self) -> np.ndarray:
        """The true state now, float64 `[S]`."""
        ...

    def set_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Put the world in `state [S]` (goal kept); returns the new observation."""
        ...

    def can_set(self, state: np.ndarray) -> bool:
        """Whether `set_state(state)` is allowed."""
        ...

    def teleport(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """A state `[S]` where the agent/object has jumped far, or None if none fits now."""
        ...

    def wall_pass(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """A state `[S]` across an obstacle from `state`, or None if it does not fit now."""
        ...

    def without_object(self, state: np.ndarray) -> np.ndarray:
        """The frame `uint8 [h, w, 3]` of `state` with the agent/object not drawn."""
        ...


class TwoRoomHooks:
    """Hooks of a `TwoRoom` (state: agent x, y)."""

    def __init__(self, world: TwoRoom, min_jump: float = 0.25, near_wall: float = 0.2) -> None:
        """Args: world; min_jump: teleport distance (arena units); near_wall: wall-pass reach."""
        self.world, self.min_jump, self.near_wall = world, min_jump, near_wall

    def state(self) -> np.ndarray:
        """The agent's (x, y)."""
        return self.world.agent_position()

    def set_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Move the agent to `state [2]`, keeping the goal."""
        obs, _ = self.world.reset(options={"agent": state, "goal": self.world.goal_position()})
        return obs

    def can_set(self, state: np.ndarray) -> bool:
        """Whether the agent fits at `state`."""
        return self.world.is_free(state)

    def teleport(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """A free place in the same room at least `min_jump` away."""
        room = self.world.room_of(state)
        for _ in range(_TRIES):
            target = self.world.sample_free_position(rng, room=room)
            if np.linalg.norm(target - state) >= self.min_jump:
                return target
        return None

    def wall_pass(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """The agent mirrored across the wall (x → 1 - x) when near it and beside no door."""
        c = self.world.config
        x, y = float(state[0]), float(state[1])
        beside_door = abs(y - c.door_center) < c.door_width / 2 + c.agent_radius
        mirrored = np.array([1.0 - x, y])
        if abs(x - 0.5) > self.near_wall or beside_door or not self.world.is_free(mirrored):
            return None
        return mirrored

    def without_object(self, state: np.ndarray) -> np.ndarray:
        """The empty rooms."""
        return self.world.render_at(np.array([-10.0, -10.0]))


class PushTHooks:
    """Hooks of a `PushT` (state: pusher x, y, block x, y, angle)."""

    def __init__(
        self, world: PushT, jump: tuple[float, float] = (100.0, 200.0), near_block: float = 40.0
    ) -> None:
        """Args: world; jump: teleport distance range (units); near_block: pass-through reach."""
        self.world, self.jump, self.near_block = world, jump, near_block

    def state(self) -> np.ndarray:
        """Pusher position and block pose, `[5]`."""
        return np.concatenate([self.world.pusher_position(), self.world.block_pose()])

    def set_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Put pusher and block at `state [5]` (velocities zero), keeping the goal."""
        obs, _ = self.world.reset(options={"state": state, "goal": self.world.goal_pose()})
        return obs

    def can_set(self, state: np.ndarray) -> bool:
        """Whether pusher and block fit apart in the arena."""
        return self.world.is_free(state)

    def teleport(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """The block moved by `jump` units in a random direction (pose angle kept)."""
        if not self.can_set(state):
            return None
        for _ in range(_TRIES):
            angle = rng.uniform(-math.pi, math.pi)
            distance = rng.uniform(*self.jump)
            moved = state.copy()
            moved[2:4] += distance * np.array([math.cos(angle), math.sin(angle)])
            if self.can_set(moved):
                return moved
        return None

    def wall_pass(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """The pusher, within `near_block` of the block, moved through it to its far side."""
        if not self.can_set(state):
            return None
        pusher, pose = state[:2], state[2:]
        if self.world.block_clearance(pusher, pose) > self.near_block:
            return None
        through = pose[:2] - pusher
        for scale in (1.0, 1.25, 1.5, 1.75, 2.0):
            moved = state.copy()
            moved[:2] = pose[:2] + scale * through
            if self.can_set(moved) and self.world.block_clearance(moved[:2], pose) > 0:
                return moved
        return None

    def without_object(self, state: np.ndarray) -> np.ndarray:
        """The pusher alone: the block drawn far outside the arena."""
        return self.world.render_at(state[:2], np.array([-10 * ARENA, -10 * ARENA, 0.0]))


def hooks_for(world: gymnasium.Env) -> WorldHooks:
    """The hooks of `world` (TwoRoom, PushT or Cube).

    Raises:
        ConfigError: the world has no perturbation hooks.
    """
    inner = world.unwrapped
    if isinstance(inner, TwoRoom):
        return TwoRoomHooks(inner)
    if isinstance(inner, PushT):
        return PushTHooks(inner)
    if isinstance(inner, Cube):
        return CubeHooks(inner)
    raise ConfigError(
        f"no perturbation hooks for a {type(inner).__name__} world; worlds with hooks: "
        f"{', '.join(HOOKED_WORLDS)}"
    )


def recolour(frame: np.ndarray) -> np.ndarray:
    """`frame uint8 [h, w, 3]` with its hue turned by 120 degrees (RGB → GBR), a new array."""
    return np.ascontiguousarray(frame[..., [1, 2, 0]])


@dataclass(frozen=True)
class Event:
    """An event asked for at env step `at` (the frame after `at` actions)."""

    name: str
    at: int

    def __post_init__(self) -> None:
        if self.name not in EVENTS:
            raise ConfigError(f"unknown event {self.name!r}; events: {', '.join(EVENTS)}")
        if not isinstance(self.at, int) or self.at < 1:
            raise ConfigError(f"Event.at must be an integer >= 1, got {self.at!r}")


class EventWorld(gymnasium.Wrapper):
    """A world in which `event` happens at the first fitting env step at or after `event.at`.

    Attributes:
        applied_at: the env step (frames counted from 0 at reset) whose frame first shows the
            event, or None while it has not happened.
    """

    def __init__(
        self, env: gymnasium.Env, event: Event, seed: int = 0, hooks: WorldHooks | None = None
    ) -> None:
        """Args: env; event; seed: its draws' seed; hooks: the world's (default `hooks_for`)."""
        super().__init__(env)
        self.event, self.seed = event, seed
        self.hooks = hooks_for(env) if hooks is None else hooks
        self.applied_at: int | None = None
        self._t = 0
        self._rng = np.random.default_rng(seed)

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the world and the event (it will happen again at `event.at`)."""
        self._t, self.applied_at = 0, None
        self._rng = np.random.default_rng(self.seed)
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], Any, bool, bool, dict[str, Any]]:
        """Step the world; apply the event when due; draw the frame as the event wants."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        if self.applied_at is None and self._t >= self.event.at:
            changed = self._apply(obs)
            if changed is not None:
                obs, self.applied_at = changed, self._t
        if self.applied_at is not None:
            obs = {**obs, "pixels": self._view(obs)}
        return obs, reward, terminated, truncated, info

    def _apply(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """Apply the event now; the new observation, or None when it does not fit yet."""
        name, hooks, state = self.event.name, self.hooks, self.hooks.state()
        if name in ("vanish", "colour_change"):
            return obs  # only the view changes (in `_view`)
        if name == "unchanged":
            new: np.ndarray | None = state if hooks.can_set(state) else None
        elif name == "teleport":
            new = hooks.teleport(state, self._rng)
        else:
            new = hooks.wall_pass(state, self._rng)
        return None if new is None else hooks.set_state(new)

    def _view(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The frame shown: the world's, without the object, or recoloured."""
        if self.event.name == "vanish":
            return self.hooks.without_object(self.hooks.state())
        if self.event.name == "colour_change":
            return recolour(obs["pixels"])
        return obs["pixels"]
