"""The live run's state file (`live.json`): its settings and every finished round.

Written atomically after each finished round, so a killed run starts again after the last one;
a folder holding a run with other settings is refused (more rounds may be asked for).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ami.config import config_to_dict
from ami.errors import ConfigError
from ami.files import atomic_write_bytes
from ami.live.config import LiveConfig
from ami.provenance import machine_facts
from ami.recipes import Recipe

STATE_FILE = "live.json"


def load_state(out: Path, recipe: Recipe, config: LiveConfig) -> dict[str, Any]:
    """The state of an earlier run in `out` (which must have the same settings), or a new one."""
    path = out / STATE_FILE
    # through JSON, so that tuples compare as the lists they are read back as
    settings = json.loads(
        json.dumps({"recipe": config_to_dict(recipe), "live": config_to_dict(config)})
    )
    if not path.is_file():
        return {**settings, "rounds": []}
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc.msg}); it is the live run's state"
        ) from exc
    if state.get("recipe") != settings["recipe"] or _without_rounds(
        state["live"]
    ) != _without_rounds(settings["live"]):
        raise ConfigError(f"{out} holds a live run with other settings; use another --out")
    state["live"] = settings["live"]  # more rounds may be asked for
    return state


def _without_rounds(live: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in live.items() if key != "rounds"}


def finish_round(out: Path, state: dict[str, Any], entry: dict[str, Any]) -> None:
    """Record a finished round in the state file (atomically)."""
    state["rounds"].append(entry)
    state["run"] = machine_facts()
    atomic_write_bytes(out / STATE_FILE, (json.dumps(state, indent=2) + "\n").encode())
