"""Frames per second of OGBench's cube-single at 64x64: ami's numpy rasteriser vs MuJoCo's renderer.

The states are the env's own (a reset per seed, then random controls held for 20 physics steps
between states, no rendering), stored and replayed: each timed frame restores a state with
`mj_forward` (untimed) and renders it from the `front_pixels` camera, by
`ami.worlds.mujoco_raster.GeomRasterizer.render` and by `mujoco.Renderer` (`update_scene` +
`render`, on MUJOCO_GL's backend, EGL on Mesa's software rasteriser on a machine without a GPU).
Also measured: physics alone (`mj_step` per second and env steps per second of the state-based
env) and env steps per second of the pixel env (which renders with MuJoCo every step).

One core: the process is pinned to one CPU (`os.sched_setaffinity`), so numpy and Mesa threads
share it. Rates are reported per wall-clock second and per CPU second of this process (the
second is the one to read on a loaded machine); the load average before and after is kept.
Writes benchmarks/results/cube_render.json.
Run: python -m benchmarks.cube_render  (~1 min)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.results_file import write_results

SIZE, CAMERA = 64, "front_pixels"


def rates(run: Callable[[], None], count: int, rounds: int = 3) -> dict[str, float]:
    """Best per-wall-second and per-CPU-second rates of `count` calls done by `run()`."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return {"per_wall_s": round(count / wall, 1), "per_cpu_s": round(count / max(cpu, 1e-9), 1)}


def sample_states(env: Any, count: int, seeds: int) -> list[tuple[np.ndarray, ...]]:
    """`count` states of the env's physics (qpos, qvel, act, mocap pose) after random controls."""
    import mujoco

    model, data = env._model, env._data
    low, high = model.actuator_ctrlrange.T
    rng = np.random.default_rng(0)
    states = []
    for i in range(count):
        if i % (count // seeds) == 0:
            env.reset(seed=i)
        data.ctrl[:] = rng.uniform(low, high)
        for _ in range(20):
            mujoco.mj_step(model, data)
        states.append(tuple(a.copy() for a in (data.qpos, data.qvel, data.act, data.mocap_pos)))
    return states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=300, help="random states rendered")
    parser.add_argument(
        "--mujoco-states", type=int, default=30, help="of those, rendered by MuJoCo (~5/s)"
    )
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    load_before = os.getloadavg()
    try:
        import gymnasium
        import mujoco
        import ogbench  # noqa: F401  (registers the envs)
    except ImportError as missing:
        print(f"not measured: {missing} (pip install ogbench)", file=sys.stderr)
        raise SystemExit(2) from missing
    from ami.worlds.mujoco_raster import GeomRasterizer, RasterConfig

    env = gymnasium.make("cube-single-v0", ob_type="pixels", width=SIZE, height=SIZE).unwrapped
    model, data = env._model, env._data
    states = sample_states(env, args.states, seeds=10)

    def restore(state: tuple[np.ndarray, ...]) -> None:
        data.qpos[:], data.qvel[:], data.act[:], data.mocap_pos[:] = state
        mujoco.mj_forward(model, data)

    built = time.perf_counter()
    raster = GeomRasterizer(model, RasterConfig(size=SIZE, camera=CAMERA))
    build_s = time.perf_counter() - built
    renderer = mujoco.Renderer(model, SIZE, SIZE)
    prepared = []
    for state in states:  # the timed loops render from copies of MjData, restored untimed
        restore(state)
        prepared.append(mujoco.MjData(model))
        mujoco.mj_copyData(prepared[-1], model, data)

    def ours() -> None:
        for d in prepared:
            raster.render(d)

    def theirs() -> None:
        for d in prepared[: args.mujoco_states]:
            renderer.update_scene(d, camera=CAMERA)
            renderer.render()

    def physics() -> None:
        for _ in range(1000):
            mujoco.mj_step(model, data)

    figures: dict[str, Any] = {
        "ami_raster_frames": {**rates(ours, len(prepared)), "unit": "frames/s"},
        "mujoco_renderer_frames": {
            **rates(theirs, min(args.mujoco_states, len(prepared)), rounds=1),
            "unit": "frames/s",
        },
        "mj_step": {**rates(physics, 1000), "unit": "steps/s"},
    }
    env.close()
    for ob_type, steps in (("states", 200), ("pixels", 20)):
        stepped = gymnasium.make("cube-single-v0", ob_type=ob_type, width=SIZE, height=SIZE)
        stepped.reset(seed=0)
        stepped.action_space.seed(0)
        actions = [stepped.action_space.sample() for _ in range(steps)]

        def step(stepped: Any = stepped, actions: list[Any] = actions) -> None:
            for action in actions:
                stepped.step(action)

        figures[f"env_steps_{ob_type}"] = {**rates(step, steps, rounds=1), "unit": "steps/s"}
        stepped.close()
    for name, figure in figures.items():
        print(f"{name}: {figure}")
    write_results(
        "cube_render",
        {
            "world": "ogbench cube-single-v0",
            "how": (
                f"{len(prepared)} random states ({args.mujoco_states} of them for MuJoCo's "
                f"renderer), {SIZE}x{SIZE}, camera {CAMERA}, best of 3 rounds (MuJoCo's "
                "renderer and env steps: 1 round), one pinned core"
            ),
            "figures": figures,
            "raster": {
                "triangles": raster.triangle_count,
                "max_mesh_triangles": raster.config.max_mesh_triangles,
                "build_seconds": round(build_s, 2),
            },
            "mujoco_gl": os.environ.get("MUJOCO_GL"),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpus_allowed": sorted(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
        },
    )


if __name__ == "__main__":
    main()
