"""`SurpriseMonitor`: a listener of the agent loop that notices when the world defies the model.

It sees every `Step` (the frame after an action, the action), keeps the embeddings of the last
`k · history + 1` frames and the last `k · history` actions, and computes the surprise of each new
frame exactly as `surprise_series` does offline. Above its threshold (calibrated on normal
experience to a chosen false-alarm rate with `calibrate_threshold`) it fires: the event is logged
(`logging` logger "ami.surprise", level WARNING), kept in `events`, and handed to each
`on_surprise` callback, e.g. `agent.replan` (plan again at once, from what is seen now) and a
`SurpriseLabeller` (label the step "surprise" in memory). The loop itself knows none of this.

The first frame a listener sees is the one after the first action, so the first surprise is
scored `k` steps after that; a `Step` with `t == 0` starts a new episode.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ami.agent.episode import Step
from ami.agent.memory_recorder import MemoryRecorder
from ami.errors import ConfigError
from ami.model import WorldModel
from ami.understanding.models import encode_frames

LOGGER = logging.getLogger("ami.surprise")
LABEL = "surprise"


@dataclass(frozen=True)
class SurpriseEvent:
    """A moment the monitor fired.

    Attributes:
        t: the `Step.t` whose frame was surprising (the frame after action t).
        surprise: the surprise of that frame.
        threshold: the threshold it exceeded.
    """

    t: int
    surprise: float
    threshold: float


SurpriseCallback = Callable[[SurpriseEvent], None]


class SurpriseMonitor:
    """Scores every step's frame; fires above `threshold`.

    Args:
        model: the world model whose predictions are checked.
        threshold: surprise above which it fires (see `calibrate_threshold`).
        on_surprise: called with each `SurpriseEvent`, in order.

    Attributes:
        surprises: the surprise of every scored step of the current episode, `(t, value)`.
        events: every `SurpriseEvent` since the monitor was built.
    """

    def __init__(
        self,
        model: WorldModel,
        threshold: float,
        on_surprise: Sequence[SurpriseCallback] = (),
    ) -> None:
        if not np.isfinite(threshold) or threshold < 0:
            raise ConfigError(f"SurpriseMonitor.threshold must be >= 0, got {threshold!r}")
        self.model, self.threshold = model, float(threshold)
        self.on_surprise = list(on_surprise)
        self.k, self.history = model.config.frameskip, model.history
        span = self.k * self.history
        self._z: deque[np.ndarray] = deque(maxlen=span + 1)
        self._actions: deque[np.ndarray] = deque(maxlen=span)
        self.surprises: list[tuple[int, float]] = []
        self.events: list[SurpriseEvent] = []

    def __call__(self, step: Step) -> None:
        """Score the step's frame; fire when it is surprising."""
        if step.t == 0:
            self._z.clear()
            self._actions.clear()
            self.surprises = []
        else:
            self._actions.append(np.asarray(step.action, np.float32))
        self._z.append(encode_frames(self.model, step.pixels[None])[0])
        if len(self._z) <= self.k:
            return
        value = self._surprise()
        self.surprises.append((step.t, value))
        if value > self.threshold:
            event = SurpriseEvent(step.t, value, self.threshold)
            self.events.append(event)
            LOGGER.warning(
                "surprise %.3f above %.3f at step %d: replanning", value, self.threshold, step.t
            )
            for callback in self.on_surprise:
                callback(event)

    @torch.no_grad()
    def _surprise(self) -> float:
        """Distance of the newest embedding from its prediction (context as offline)."""
        z, k = list(self._z), self.k
        newest = len(z) - 1
        # frames newest - k, newest - 2k, ... (oldest first); before the first frame of this
        # phase, that first frame again (as `history_windows` pads offline)
        context = [max(newest - j * k, newest % k) for j in range(self.history, 0, -1)]
        block = np.concatenate(list(self._actions)[-k:])  # [k A]
        device = self.model.device
        z_context = torch.as_tensor(np.stack([z[c] for c in context]), device=device)[None]
        actions = torch.zeros(1, len(context), block.size, device=device)
        actions[0, -1] = torch.as_tensor(block, device=device)
        predicted = self.model.predict(z_context, actions)[0, -1]
        return float((predicted - torch.as_tensor(z[newest], device=device)).norm())


class SurpriseLabeller:
    """An `on_surprise` callback that labels the surprising step in memory.

    It writes through the episode's `MemoryRecorder` (flushing it so the step is stored, then
    labelling the step "surprise"); a step not yet recorded (the recorder listed after the
    monitor) is labelled at the next event or at `close`.
    """

    def __init__(self, recorder: MemoryRecorder, label: str = LABEL) -> None:
        self.recorder, self.label = recorder, label
        self._pending: list[int] = []
        self.labelled: list[int] = []

    def __call__(self, event: SurpriseEvent) -> None:
        """Label the event's step (now, or once the recorder has it)."""
        self._pending.append(event.t)
        self.write()

    def write(self) -> None:
        """Label every pending step the memory already holds."""
        if not self._pending:
            return
        self.recorder.flush()
        memory, episode = self.recorder.memory, self.recorder.episode
        steps = memory.steps(episode)
        ids = dict(zip(steps.t.tolist(), steps.ids.tolist(), strict=True))
        for t in [t for t in self._pending if t in ids]:
            memory.label(ids[t], self.label)
            self.labelled.append(ids[t])
            self._pending.remove(t)

    def close(self) -> None:
        """Write the recorder's last steps and label what is still pending."""
        self.recorder.close()
        self.write()
