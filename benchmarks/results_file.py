"""Results files: `benchmarks/results/<name>.json`, each with the provenance of its figures.

Every benchmark writes through `write_results`: the document, then the command line, the
1-minute load average and `ami.provenance.machine_facts()` (date, machine, CPU model and
vector capability, versions, git revision), written atomically (`ami.files`). A key the
document already holds is kept (a merged file's entries carry the provenance of the run that
measured them; see `provenance`).

Paths are recorded relative to the repository root, never absolute: every `Path` in the
document (values and keys), and every string that is an absolute path inside the repository,
becomes a relative POSIX path; a path outside the repository becomes relative to it as well
(`../..`), so no file names the machine's folders.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ami.errors import ConfigError
from ami.files import atomic_write_bytes
from ami.provenance import machine_facts

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def command_line() -> str:
    """The running command as a user types it: `python -m benchmarks.NAME ARGS`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    program = ["python", "-m", spec.name] if spec is not None else [Path(sys.argv[0]).name]
    return shlex.join([*program, *sys.argv[1:]])


def provenance(command: str | None = None) -> dict[str, Any]:
    """The command (default: this process's), the load average and the machine's facts."""
    return {
        "command": command or command_line(),
        "load_average": round(os.getloadavg()[0], 2),
        **machine_facts(),
    }


def repository_path(path: str | os.PathLike[str]) -> str:
    """`path` relative to the repository root (a relative one is taken from the cwd)."""
    return Path(os.path.relpath(os.path.abspath(path), ROOT)).as_posix()


def relative_paths(value: Any) -> Any:
    """`value` with every path in it (a `Path`, or an absolute string in the repository) relative.

    Dicts (keys included), lists and tuples are walked; numpy scalars become Python numbers;
    other values are returned as they are.
    """
    if isinstance(value, Path):
        return repository_path(value)
    if isinstance(value, str):
        inside = value.startswith(str(ROOT) + os.sep) or value == str(ROOT)
        return repository_path(value) if inside else value
    if isinstance(value, dict):
        return {relative_paths(key): relative_paths(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [relative_paths(item) for item in value]
    if isinstance(value, np.generic):  # a count or a figure computed with numpy
        return value.item()
    return value


def results_path(name: str, out: Path | None = None) -> Path:
    """The file of results `name`: `out` when given, else `benchmarks/results/<name>.json`."""
    return out if out is not None else RESULTS / f"{name}.json"


def read_results(name: str, out: Path | None = None) -> dict[str, Any]:
    """The results document `name` as written before, or `{}` when there is none.

    Raises:
        ConfigError: the file is not a JSON object.
    """
    path = results_path(name, out)
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"results file {path} cannot be read as JSON ({exc}); move it") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"results file {path} is not a JSON object; move it")
    return document


def write_results(
    name: str, document: dict[str, Any], command: str | None = None, out: Path | None = None
) -> Path:
    """Write `document` with its provenance to `benchmarks/results/<name>.json` (or `out`).

    Args:
        name: the results' name (the file's stem).
        document: the figures, as plain data; `Path`s in it are recorded relative.
        command: the command line recorded (default: this process's, `command_line()`).
        out: another file to write instead (e.g. a device machine's output folder).

    Returns:
        The path written.
    """
    facts = {k: v for k, v in provenance(command).items() if k not in document}
    text = json.dumps(relative_paths({**document, **facts}), indent=2) + "\n"
    path = results_path(name, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, text.encode())
