"""A noisy scripted Reacher collector: PD control in joint space towards random joint targets."""

from __future__ import annotations

from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.worlds.reacher import ELBOW_LIMIT, wrap_angle


class ReacherExpert:
    """Drives the arm to a random joint configuration, then to another, with noisy torques.

    Targets are uniform: q1 in [-pi, pi), q2 in +-0.9 * ELBOW_LIMIT. The action is
    clip(kp * error - kd * qdot + N(0, noise^2), -1, 1) per joint, the shoulder's error wrapped to
    [-pi, pi) (the short way round), the elbow's not (it is limited). A target is replaced when
    both joints are within `reach` rad of it, or after `patience` steps. It reads the true state
    `obs["state"]` = (q1, q2, qdot1, qdot2), as a scripted collector may; agents never do.
    """

    def __init__(
        self,
        kp: float = 2.0,
        kd: float = 0.3,
        noise: float = 0.2,
        reach: float = 0.1,
        patience: int = 80,
    ) -> None:
        """Build the expert.

        Args:
            kp: Proportional gain (action units per rad).
            kd: Derivative gain (action units per rad/s).
            noise: Action noise std.
            reach: Radians within which a target counts as reached.
            patience: Steps after which an unreached target is replaced.
        """
        for name, value in (("kp", kp), ("kd", kd), ("noise", noise), ("reach", reach)):
            if not value >= 0:
                raise ConfigError(f"ReacherExpert.{name} must be non-negative, got {value!r}")
        if not isinstance(patience, int) or patience < 1:
            raise ConfigError(f"ReacherExpert.patience must be an integer >= 1, got {patience!r}")
        self.kp, self.kd, self.noise, self.reach, self.patience = kp, kd, noise, reach, patience
        self._rng: np.random.Generator | None = None
        self.target: np.ndarray | None = None
        self._steps_on_target = 0

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode drawing from `rng`; the first target is drawn at the first action."""
        self._rng, self.target, self._steps_on_target = rng, None, 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        """The noisy PD torque float32 [2] towards the current joint target."""
        if self._rng is None:
            raise RuntimeError("ReacherExpert: call reset(rng) before asking for actions")
        state = np.asarray(obs["state"], np.float64)
        q, qdot = state[:2], state[2:4]
        target = self.target
        if (
            target is None
            or self._steps_on_target >= self.patience
            or (np.all(np.abs(_error(target, q)) <= self.reach))
        ):
            target = self.target = np.array(
                [
                    self._rng.uniform(-np.pi, np.pi),
                    self._rng.uniform(-0.9 * ELBOW_LIMIT, 0.9 * ELBOW_LIMIT),
                ]
            )
            self._steps_on_target = 0
        self._steps_on_target += 1
        action = self.kp * _error(target, q) - self.kd * qdot + self._rng.normal(0.0, self.noise, 2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def _error(target: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Target minus joint angles [2]: the shoulder's wrapped to [-pi, pi), the elbow's not."""
    return np.array([float(wrap_angle(target[0] - q[0])), target[1] - q[1]])
