"""Provenance of every results file: date, machine, versions and the git revision that ran.

The revision is read once, when this module is first imported (at the start of a command or a
benchmark script), so a results file written after a long run names the code that ran, not a
commit made while it was running.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import ami
from ami.device import cpu_facts


def machine_facts() -> dict[str, Any]:
    """Date (now), machine, CPU (model, vector capability, native bf16), versions, git revision.

    Figures from different CPUs cannot be compared without the CPU: one with AVX512-BF16 or AMX
    runs bfloat16 several times faster than float32, one with AVX2 alone tens of times slower.
    """
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        **cpu_facts(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ami": ami.__version__,
        "git_revision": git_revision(),
    }


@functools.cache
def git_revision() -> str:
    """The git commit of the source tree when first asked, "-dirty" with uncommitted changes.

    Cached for the life of the process: the first call (at import) fixes it.
    """
    try:
        revision = _git("rev-parse", "--short", "HEAD")
        changes = _git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not revision:
        return "unknown"
    return f"{revision}-dirty" if changes else revision


def _git(*args: str) -> str:
    """The stripped output of `git *args` run in this package's folder."""
    return subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=5,
        cwd=Path(__file__).resolve().parent,
    ).stdout.strip()


git_revision()  # fixed now, at the start of the run
