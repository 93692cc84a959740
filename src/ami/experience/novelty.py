"""A count-based explorer for collection: steer each held action toward rarely visited states.

This is a collector, like the scripted experts: it reads the true state `obs["state"]`, which
the learning agent never sees. What it does, exactly, within one episode:

1. It keeps every state of the episode so far and a grid over the chosen state components
   (`state_dims`): each component is cut into `bins` equal cells between the smallest and the
   largest value it has taken in this episode (the running min/max; a component that has not
   moved is one cell). Below and above that range lie two more cells per component, the ring
   just past the visited range.
2. It fits a one-step affine model of the state change, `s' - s ≈ [a, s, 1] Θ`, by ridge least
   squares over every step of the episode so far (all state components, so that a velocity in
   the state carries a position forward).
3. Every `hold` steps it draws `candidates` held actions the way `HeldRandomPolicy` draws them
   and rolls the model forward `hold` steps from the current state for each. A cell's count is
   the episode's states in it plus the earlier decisions whose predicted end lay in it (so a
   cell the model keeps aiming at but never reaches, behind a wall, fills up as well). It holds
   the candidate whose predicted end cell has the lowest count, of those the one whose cell is
   farthest (L1, in cells) from the current one, of those the first drawn.
4. Until the model has as many steps as it has coefficients per output, and with probability
   `epsilon` at any decision, it holds a random candidate instead.

The grid is coarse on purpose (4 cells per component by default): once the visited range's
cells are filled, the only cells left at count 0 are in the ring past it, so the explorer pushes
the range outward instead of filling it ever finer.

Counts, ranges and the model start afresh at every reset, so an episode is a function of its
generator and its own states alone (collection's per-episode determinism holds). The linear model
knows no walls: a candidate pushing into a wall may be predicted to escape it; `epsilon` and the
counted aims keep such a choice from repeating for ever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.experience.exploration import held_action
from ami.experience.policies import _started


class NoveltyPolicy:
    """Holds, every `hold` steps, the candidate action predicted to reach the rarest cell."""

    def __init__(
        self,
        action_dim: int,
        state_dims: Sequence[int] | None = None,
        hold: int = 8,
        candidates: int = 16,
        bins: int = 4,
        epsilon: float = 0.1,
        ridge: float = 1e-3,
        full_speed: float = 0.5,
    ) -> None:
        """Build the explorer; the module docstring says how each setting is used.

        Args:
            action_dim: `A`.
            state_dims: the indices of the state components gridded (None: all of them).
            hold: steps each chosen action is held, and the model's look-ahead.
            candidates: held actions compared at each decision.
            bins: cells per gridded component over its running range.
            epsilon: the probability of a random candidate at a decision.
            ridge: the ridge penalty of the model's least squares.
            full_speed: the candidates' share at full speed (as in `HeldRandomPolicy`).
        """
        owner = type(self).__name__
        for name, value in (
            ("action_dim", action_dim),
            ("hold", hold),
            ("candidates", candidates),
            ("bins", bins),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{owner}.{name} must be a positive integer, got {value!r}")
        if state_dims is not None and (
            len(state_dims) == 0
            or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in state_dims
            )
        ):
            raise ConfigError(
                f"{owner}.state_dims must be None or non-negative indices, got {state_dims!r}"
            )
        for share, fraction in (("epsilon", epsilon), ("full_speed", full_speed)):
            if not 0.0 <= fraction <= 1.0:
                raise ConfigError(f"{owner}.{share} must be in [0, 1], got {fraction!r}")
        if not ridge > 0:
            raise ConfigError(f"{owner}.ridge must be positive, got {ridge!r}")
        self.action_dim, self.hold, self.candidates, self.bins = action_dim, hold, candidates, bins
        self.state_dims = None if state_dims is None else tuple(state_dims)
        self.epsilon, self.ridge, self.full_speed = epsilon, ridge, full_speed
        self._rng: np.random.Generator | None = None
        self._states: list[np.ndarray] = []  # every state of the episode, [S] each
        self._actions: list[np.ndarray] = []  # the action taken after each state but the last
        self._aims: list[np.ndarray] = []  # the predicted end state of each chosen hold, [S] each
        self._action = np.zeros(action_dim, np.float32)
        self._left = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`: counts, ranges and model start afresh."""
        self._rng, self._states, self._actions, self._aims, self._left = rng, [], [], [], 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The held action float32 `[A]`; a new one is chosen every `hold` steps."""
        rng = _started(self._rng, self)
        state = np.asarray(obs["state"], np.float64).reshape(-1)
        if self.state_dims is not None and max(self.state_dims) >= state.size:
            raise ConfigError(
                f"NoveltyPolicy.state_dims {list(self.state_dims)} do not fit a state of "
                f"{state.size} components"
            )
        self._states.append(state)
        if self._left == 0:
            self._action = self._choose(rng)
            self._left = self.hold
        self._left -= 1
        self._actions.append(self._action)
        return self._action.copy()

    def _choose(self, rng: np.random.Generator) -> np.ndarray:
        """The next held action: the rarest-cell candidate, or a random one (see above)."""
        options = [
            held_action(rng, self.action_dim, self.full_speed) for _ in range(self.candidates)
        ]
        coefficients = self._fit()
        if coefficients is None or rng.random() < self.epsilon:
            return options[0]
        visited = np.stack(self._states)  # [n, S]
        dims = list(self.state_dims) if self.state_dims is not None else slice(None)
        low, high = visited[:, dims].min(axis=0), visited[:, dims].max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        counts = Counter(map(tuple, self._cells(visited[:, dims], low, span)))
        if self._aims:
            counts.update(map(tuple, self._cells(np.stack(self._aims)[:, dims], low, span)))
        ends = np.stack([self._predict(coefficients, visited[-1], a) for a in options])
        here = self._cells(visited[-1:, dims], low, span)  # [1, G]
        cells = self._cells(ends[:, dims], low, span)  # [candidates, G]
        counts_then_far = [
            (counts[tuple(cell)], -int(np.abs(cell - here[0]).sum())) for cell in cells
        ]
        best = min(range(len(options)), key=counts_then_far.__getitem__)
        self._aims.append(ends[best])
        return options[best]

    def _cells(self, points: np.ndarray, low: np.ndarray, span: np.ndarray) -> np.ndarray:
        """Grid cells `[n, G]` (int) of `points [n, G]`; beyond the range is the ring past it."""
        points = np.nan_to_num(points, nan=np.inf, posinf=np.inf, neginf=-np.inf)
        with np.errstate(invalid="ignore"):
            cells = np.floor((points - low) / span * self.bins)
        inside = np.clip(np.nan_to_num(cells), 0, self.bins - 1)  # the maximum: the last cell
        beyond = np.where(points < low, -1, np.where(points > low + span, self.bins, inside))
        return beyond.astype(np.int64)

    def _fit(self) -> np.ndarray | None:
        """Θ `[A + S + 1, S]` of `s' - s ≈ [a, s, 1] Θ` by ridge least squares, None too early."""
        steps = len(self._actions)
        features = self.action_dim + self._states[0].size + 1
        if steps < features:
            return None
        states = np.stack(self._states[: steps + 1])  # [steps + 1, S]
        inputs = np.concatenate(
            [np.stack(self._actions), states[:-1], np.ones((steps, 1))], axis=1
        )  # [steps, A + S + 1]
        gram = inputs.T @ inputs + self.ridge * np.eye(features)
        return np.linalg.solve(gram, inputs.T @ (states[1:] - states[:-1]))

    def _predict(
        self, coefficients: np.ndarray, state: np.ndarray, action: np.ndarray
    ) -> np.ndarray:
        """The state `[S]` after holding `action` for `hold` steps from `state`, by the model."""
        with np.errstate(over="ignore", invalid="ignore"):  # an unstable fit may diverge
            for _ in range(self.hold):
                state = state + np.concatenate([action, state, [1.0]]) @ coefficients
        return state
