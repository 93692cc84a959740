"""The live run's state file (`live.json`): its settings and every finished round.

Written first, before anything else goes into the run folder (settings, no rounds yet), and again
atomically after each finished round, so a killed run starts again after the last finished one.
A folder holding a run with other settings is refused (more rounds may be asked for), and so is a
folder that holds files but no `live.json`: they are not ami live's, and it never touches them.
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

# What every finished round records, and the types the loop and the CLI read it as.
ROUND_FIELDS: dict[str, tuple[type, ...]] = {
    "round": (int,),
    "env_steps": (int,),
    "success_rate": (int, float),
    "random_success_rate": (int, float),
    "minutes": (int, float),
}


def open_state(out: Path, recipe: Recipe, config: LiveConfig) -> dict[str, Any]:
    """The state of the live run in `out`: an earlier one (same settings), or a new one, written.

    Raises:
        ConfigError: `out` is a file; holds files but no `live.json`; holds a run with other
            settings; or its `live.json` is not a live run's state.
    """
    path = out / STATE_FILE
    # through JSON, so that tuples compare as the lists they are read back as
    settings = json.loads(
        json.dumps({"recipe": config_to_dict(recipe), "live": config_to_dict(config)})
    )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder; ami live needs a folder for its run")
    if not path.is_file():
        _require_no_foreign_files(out)
        state: dict[str, Any] = {**settings, "rounds": []}
        atomic_write_bytes(path, _encode(state))
        return state
    state = _read_state(path)
    if state["recipe"] != settings["recipe"] or _without_rounds(state["live"]) != _without_rounds(
        settings["live"]
    ):
        raise ConfigError(f"{out} holds a live run with other settings; use another --out")
    state["live"] = settings["live"]  # more rounds may be asked for
    return state


def _require_no_foreign_files(out: Path) -> None:
    """Refuse a folder without `live.json` that holds anything but a killed write of it."""
    if not out.is_dir():
        return
    foreign = sorted(
        entry.name for entry in out.iterdir() if not entry.name.startswith(f".{STATE_FILE}.tmp-")
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise ConfigError(
            f"{out} holds files ({shown}) but no {STATE_FILE}, so they are not an ami live run's; "
            "ami live never touches them: use a new or empty --out"
        )


def _read_state(path: Path) -> dict[str, Any]:
    """`live.json` parsed and checked for the shape the loop reads.

    Raises:
        ConfigError: not JSON, or not a live run's state (names the first thing wrong).
    """
    try:
        state = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ConfigError(f"{path} is not valid JSON ({exc}); it is the live run's state") from exc
    problem = _shape_problem(state)
    if problem is not None:
        raise ConfigError(
            f"{path} is not an ami live run's state ({problem}); restore it or use another --out"
        )
    return state


def _shape_problem(state: object) -> str | None:
    """What is wrong with the shape of a parsed state, or None."""
    if not isinstance(state, dict):
        return f"a JSON {type(state).__name__}, not an object"
    for key, kind in (("recipe", dict), ("live", dict), ("rounds", list)):
        if not isinstance(state.get(key), kind):
            return f"{key!r} missing or not a JSON {'object' if kind is dict else 'array'}"
    for index, entry in enumerate(state["rounds"]):
        if not isinstance(entry, dict):
            return f"round {index} is not a JSON object"
        for field, types in ROUND_FIELDS.items():
            value = entry.get(field)
            if not isinstance(value, types) or isinstance(value, bool):
                return f"round {index} has {field!r} = {value!r}"
        if entry["round"] != index:
            return f"round {index} says it is round {entry['round']}"
    return None


def _without_rounds(live: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in live.items() if key != "rounds"}


def _encode(state: dict[str, Any]) -> bytes:
    return (json.dumps(state, indent=2) + "\n").encode()


def finish_round(out: Path, state: dict[str, Any], entry: dict[str, Any]) -> None:
    """Record a finished round in the state file (atomically)."""
    state["rounds"].append(entry)
    state["run"] = machine_facts()
    atomic_write_bytes(out / STATE_FILE, _encode(state))
