"""The decisions table: what the agent chose at each decision point, and which mode chose it.

A decision is taken once per action block (every `k` env steps): the observation it was taken
from, the goal it aimed at (both as frames, so they can be embedded by any later model), the plan
it chose (`[P, A]` planner-level actions: the planner's whole horizon, or the actor's chunk), the
energy the chooser expected, and the mode ("plan" for the Mode-2 planner, "act" for the Mode-1
actor). The actor is distilled from the "plan" rows. Frames are stored, not embeddings, so a
retrained world model never meets stale embeddings here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ami.errors import ConfigError, MemoryFormatError, MemoryLookupError, ShapeError
from ami.memory.frames import decode_floats, decode_frame, encode_frame, stored_int
from ami.memory.schema import transaction
from ami.memory.sqlite import sqlite_errors
from ami.memory.store import Memory

MODES = ("plan", "act")


@dataclass(frozen=True)
class Decisions:
    """N remembered decisions, oldest first.

    Attributes:
        ids: decision ids `int64 [N]`.
        episodes: memory episode of each `int64 [N]`.
        t: env step of the episode at which each was taken `int64 [N]`.
        modes: "plan" or "act" for each.
        observations: the frame decided from, `uint8 [N, h, w, 3]`.
        goals: the goal frame, `uint8 [N, h, w, 3]`.
        plans: the chosen plan `float32 [N, P, A]`.
        energies: the energy the chooser expected, `float32 [N]` (NaN where none).
    """

    ids: np.ndarray
    episodes: np.ndarray
    t: np.ndarray
    modes: tuple[str, ...]
    observations: np.ndarray
    goals: np.ndarray
    plans: np.ndarray
    energies: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def record_decision(
    memory: Memory,
    episode: int,
    t: int,
    mode: str,
    observation: np.ndarray,
    goal: np.ndarray,
    plan: np.ndarray,
    energy: float,
) -> int:
    """Write one decision; returns its id.

    Args:
        memory: the open (writable) memory.
        episode: the memory episode it belongs to.
        t: the env step of the episode at which it was taken.
        mode: "plan" or "act".
        observation: the frame it was taken from, `uint8 [h, w, 3]`.
        goal: the goal frame, `uint8 [h, w, 3]`.
        plan: the chosen plan `float32 [P, A]`.
        energy: the energy the chooser expected of it (NaN when it had none: stored as NULL).
    """
    if mode not in MODES:
        raise ConfigError(f"decision mode must be one of {MODES}, got {mode!r}")
    plan = np.ascontiguousarray(plan, dtype=np.float32)
    if observation.shape != goal.shape or observation.ndim != 3 or plan.ndim != 2:
        raise ShapeError(
            f"a decision needs observation and goal uint8 [h, w, 3] and plan [P, A]; got "
            f"{observation.shape}, {goal.shape}, {plan.shape}"
        )
    height, width = observation.shape[:2]
    with sqlite_errors(memory.path, memory.readonly), transaction(memory.connection) as db:
        cursor = db.execute(
            "INSERT INTO decisions(episode, t, mode, plan, plan_steps, energy, height, width, "
            "observation, goal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                episode,
                int(t),
                mode,
                plan.tobytes(),
                plan.shape[0],
                float(energy),
                height,
                width,
                encode_frame(observation),
                encode_frame(goal),
            ),
        )
    return int(cursor.lastrowid or 0)


def read_decisions(memory: Memory, mode: str | None = "plan", last: int | None = None) -> Decisions:
    """The remembered decisions of `mode` (None: all), the newest `last` of them (None: all).

    Raises:
        MemoryLookupError: there are none.
    """
    where = "" if mode is None else "WHERE mode = ?"
    query = (
        "SELECT id, episode, t, mode, plan, plan_steps, energy, height, width, observation, goal "
        f"FROM decisions {where} ORDER BY id DESC"
    )
    params: tuple = () if mode is None else (mode,)
    if last is not None:
        query += " LIMIT ?"
        params = (*params, int(last))
    with sqlite_errors(memory.path, memory.readonly):
        rows = memory.connection.execute(query, params).fetchall()[::-1]
    if not rows:
        kind = "" if mode is None else f"{mode!r} "
        raise MemoryLookupError(f"memory {memory.path} holds no {kind}decisions")
    shapes = {(r[7], r[8]) for r in rows}
    steps = {r[5] for r in rows}
    if len(shapes) > 1 or len(steps) > 1:
        raise ShapeError(
            f"memory {memory.path} mixes decisions of frame sizes {sorted(shapes)} or plan "
            f"lengths {sorted(steps)}; read one kind at a time"
        )
    (height, width), plan_steps = shapes.pop(), steps.pop()
    pairs = [(r, f"decision {r[0]} of memory {memory.path}") for r in rows]
    return Decisions(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        episodes=np.array([r[1] for r in rows], dtype=np.int64),
        t=np.array([r[2] for r in rows], dtype=np.int64),
        modes=tuple(r[3] for r in rows),
        observations=np.stack([decode_frame(height, width, r[9], w) for r, w in pairs]),
        goals=np.stack([decode_frame(height, width, r[10], w) for r, w in pairs]),
        plans=np.stack([_plan(r[4], plan_steps, w) for r, w in pairs]),
        energies=np.array([np.nan if r[6] is None else r[6] for r in rows], dtype=np.float32),
    )


def count_decisions(memory: Memory) -> dict[str, int]:
    """How many decisions each mode took."""
    with sqlite_errors(memory.path, memory.readonly):
        rows = memory.connection.execute("SELECT mode, COUNT(*) FROM decisions GROUP BY mode")
        return {mode: 0 for mode in MODES} | {str(mode): int(n) for mode, n in rows}


def _plan(blob: object, plan_steps: object, where: str) -> np.ndarray:
    """The stored plan `float32 [P, A]` of the decision `where`."""
    plan = decode_floats(blob, f"the plan of {where}")
    steps = stored_int(plan_steps, f"the plan of {where}")
    if steps <= 0 or len(plan) % steps:
        raise MemoryFormatError(
            f"the plan of {where} is damaged ({len(plan)} values, {steps} rows)"
        )
    return plan.reshape(steps, -1)
