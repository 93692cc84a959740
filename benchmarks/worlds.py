"""Env steps per second of every registered world, rendering 64×64 pixels every step, one core.

Reacher is measured with both renderers: the numpy top-down painter (the default) and MuJoCo's
own OpenGL renderer (headless through EGL or OSMesa; software rendering on a machine without a
GPU). Writes benchmarks/results/worlds.json.  Run: python -m benchmarks.worlds  (≈ 1 min)
"""

from __future__ import annotations

import argparse
import sys

import torch

from ami.errors import DependencyMissingError
from ami.worlds import make, measure_steps_per_second, names
from benchmarks.results_file import write_results

SETTINGS = {name: {} for name in names()} | {"reacher[mujoco renderer]": {"renderer": "mujoco"}}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(1)
    figures: dict[str, object] = {}
    for label, overrides in SETTINGS.items():
        world = label.split("[")[0]
        try:
            env = make(world, size=64, **overrides)
        except DependencyMissingError as missing:  # no OpenGL backend on this machine
            figures[label] = {"value": None, "why": str(missing)}
            print(f"{label}: not measured ({missing})", file=sys.stderr)
            continue
        steps = 300 if overrides.get("renderer") == "mujoco" else 5000
        rate = max(measure_steps_per_second(env, steps=steps, seed=seed) for seed in range(3))
        env.close()
        figures[label] = {
            "value": rate,
            "unit": "steps/s",
            "how": f"{steps} random steps, 64x64 pixels rendered every step, best of 3, one core",
        }
        print(f"{label}: {rate:,.0f} steps/s", flush=True)
    path = write_results("worlds", {"env_steps_per_second": figures})
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
