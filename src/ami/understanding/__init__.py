"""Understanding, measured: probes of physical quantities and surprise at impossible events.

- `probes`, `quantities`, `probe_run`: linear and MLP probes from frozen embeddings to the true
  state (positions, angles, velocities; in any other world, such as a `gym:` one, each named
  state component), scored on held-out episodes beside a random encoder.
- `perturbations`, `surprise`, `surprise_run`: events that break physics (teleport, wall pass,
  vanish) and controls (colour change, unchanged twin); surprise = distance between predicted
  and observed embedding; matched pairs scored by AUROC and a paired sign test. `state_events`:
  the events of a world whose simulator state can be set (teleport to another episode's state).
- `monitor`: the online `SurpriseMonitor`, a listener of the agent loop that fires above a
  threshold calibrated to a false-alarm rate (the agent replans; the event is logged and
  labelled in memory).
"""

from ami.understanding.monitor import SurpriseEvent, SurpriseLabeller, SurpriseMonitor
from ami.understanding.perturbations import CONTROLS, EVENTS, IMPOSSIBLE, Event, EventWorld
from ami.understanding.probe_run import ProbeRunConfig, QuantityResult, run_probes
from ami.understanding.probes import Probe, ProbeConfig, fit_probe
from ami.understanding.surprise import calibrate_threshold, surprise_series
from ami.understanding.surprise_run import SurpriseReport, SurpriseRunConfig, run_surprise

__all__ = [
    "CONTROLS",
    "EVENTS",
    "IMPOSSIBLE",
    "Event",
    "EventWorld",
    "Probe",
    "ProbeConfig",
    "ProbeRunConfig",
    "QuantityResult",
    "SurpriseEvent",
    "SurpriseLabeller",
    "SurpriseMonitor",
    "SurpriseReport",
    "SurpriseRunConfig",
    "calibrate_threshold",
    "fit_probe",
    "run_probes",
    "run_surprise",
    "surprise_series",
]
