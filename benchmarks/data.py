"""Reading other formats: import speed and peak memory per format, then training speed on each.

One TwoRoom dataset is collected (expert-and-random episodes, 96x96 frames), written in each
format's published layout (stable-worldmodel HDF5 as its `HDF5Writer` lays it out, OGBench's
compressed `.npz`, a LeRobot v3.0 folder when `ami.experience.lerobot_export` is there), and each
is imported by `ami import` in a process of its own: the seconds, frames/s and that process's
peak resident memory beside the size of the frames it decoded (an import reads one episode at a
time, so the peak stays near the process's baseline however large the dataset). Then `ami train`
runs the same steps on ami's own file and on each import, frames/s from each. Last, a dataset of
`--stream-gib` GiB of decoded frames (the 64 px episodes repeated) trains inside a cgroup whose
memory limit is `--limit-mib` MiB (a quarter of the frames or less): the frames are streamed
from the file (`ami.experience.disk_frames`), the peak resident memory and frames/s recorded.
Needs a writable cgroup v1 memory controller (root); otherwise that part says why it is missing.
Writes benchmarks/results/data.json.
Run: python -m benchmarks.data  (about 5 min on 2 cores; --episodes, --steps, --stream-gib scale it)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from ami.experience import CollectConfig, Episode, ExperienceDataset, collect_to_file, write_dataset
from benchmarks.results_file import write_results

SIZE = 96  # the source frames; imports resize them to 64
CGROUP_V1 = Path("/sys/fs/cgroup/memory")


def write_swm_h5(dataset: ExperienceDataset, path: Path) -> None:
    """`dataset` in stable-worldmodel's layout: per-step rows, `ep_len`, `ep_offset`."""
    pixels, actions, states = dataset.load_arrays(progress=False)
    lengths = dataset.episode_lengths
    with h5py.File(path, "w") as file:
        file.create_dataset("pixels", data=pixels, chunks=(1, *pixels.shape[1:]))
        file.create_dataset("action", data=actions, chunks=(1, actions.shape[1]))
        file.create_dataset("state", data=states, chunks=(1, states.shape[1]))
        file.create_dataset("ep_len", data=lengths.astype(np.int32))
        file.create_dataset("ep_offset", data=dataset.episode_starts)


def write_ogbench(dataset: ExperienceDataset, path: Path) -> None:
    """`dataset` as OGBench ships its visual datasets (compressed .npz, terminal flags)."""
    pixels, actions, states = dataset.load_arrays(progress=False)
    terminals = np.zeros(len(pixels), np.float32)
    terminals[dataset.episode_starts + dataset.episode_lengths - 1] = 1
    np.savez_compressed(
        path, observations=pixels, actions=actions, terminals=terminals, qpos=states
    )


# Runs `ami ARGS` and, however it ends, writes its own peak resident memory (VmHWM, which exec
# resets; ru_maxrss would count the forking parent's memory too) to the file $AMI_PEAK_FILE.
PEAK_WRAPPER = """
import os, sys
from ami.cli import main
try:
    main()
finally:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    open(os.environ["AMI_PEAK_FILE"], "w").write(hwm)
"""


def peak_run(args: list[str], work: Path, cgroup: Path | None = None) -> tuple[float, int, str]:
    """Run `ami ARGS` (in `cgroup` if given); its seconds, own peak resident memory, stderr."""
    peak_file = work / "peak.txt"
    env = {**os.environ, "AMI_PEAK_FILE": str(peak_file)}
    command = [sys.executable, "-c", PEAK_WRAPPER, *args]
    if cgroup is not None:  # the shell joins the cgroup, then becomes the command
        join = f'echo $$ > {shlex.quote(str(cgroup / "cgroup.procs"))} && exec "$@"'
        command = ["sh", "-c", join, "sh", *command]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"ami {' '.join(args)} failed: {run.stderr.strip()}")
    return seconds, int(peak_file.read_text()) * 1024, run.stderr


def repeated_file(source: Path, out: Path, gib: float) -> tuple[Path, int]:
    """`source`'s episodes written over and over until the frames take `gib` GiB decoded."""
    with ExperienceDataset.open(source) as dataset:
        episodes = [dataset.episode(i) for i in range(dataset.num_episodes)]
    frame_bytes = episodes[0].pixels[0].nbytes
    count = int(gib * 2**30 / (frame_bytes * episodes[0].pixels.shape[0])) + 1

    def each() -> Iterator[Episode]:
        for i in range(count):
            yield episodes[i % len(episodes)]

    write_dataset(out, each(), meta={"world": "two_room"}, progress=True)
    with ExperienceDataset.open(out) as dataset:
        return out, dataset.frame_bytes


def stream_under_limit(source: Path, work: Path, args: argparse.Namespace) -> dict:
    """Train on a dataset of `--stream-gib` GiB of frames inside a cgroup of `--limit-mib` MiB."""
    cgroup = CGROUP_V1 / "ami-data-bench"
    try:
        cgroup.mkdir(exist_ok=True)
        (cgroup / "memory.limit_in_bytes").write_text(str(args.limit_mib * 2**20))
    except OSError as exc:
        print(f"streaming not measured: no cgroup to limit memory ({exc})", file=sys.stderr)
        return {"measured": False, "why": f"no writable cgroup v1 memory controller ({exc})"}
    big, frame_bytes = repeated_file(source, work / "big.h5", args.stream_gib)
    seconds, peak, stderr = peak_run(
        [
            "train",
            "--data",
            str(big),
            "--out",
            str(work / "run-stream"),
            "--preset",
            "demo",
            "--steps",
            str(args.steps),
            "--quiet",
            "--device",
            "cpu",
            "--precision",
            "fp32",
        ],
        work,
        cgroup,
    )
    found = re.search(r"([\d.]+) frames/s", stderr)
    used = int((cgroup / "memory.max_usage_in_bytes").read_text())
    figures = {
        "measured": True,
        "frames_gib": round(frame_bytes / 2**30, 2),
        "file_gib": round(big.stat().st_size / 2**30, 2),
        "limit_mib": args.limit_mib,
        "frames_over_limit": round(frame_bytes / (args.limit_mib * 2**20), 2),
        "peak_rss_mib": round(peak / 2**20, 1),
        "cgroup_max_usage_mib": round(used / 2**20, 1),
        "frames_per_second": float(found.group(1)) if found else float("nan"),
        "seconds": round(seconds, 1),
        "steps": args.steps,
    }
    print(
        f"streamed {figures['frames_gib']} GiB of frames in a {args.limit_mib} MiB cgroup: "
        f"peak {figures['peak_rss_mib']} MiB, {figures['frames_per_second']} frames/s"
    )
    big.unlink()
    cgroup.rmdir()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400, help="episodes collected")
    parser.add_argument("--steps", type=int, default=150, help="training steps on each file")
    parser.add_argument("--stream-gib", type=float, default=4.0, help="frames of the big file")
    parser.add_argument("--limit-mib", type=int, default=1024, help="the cgroup's memory limit")
    parser.add_argument("--work", type=Path, default=None, help="folder for the files (temp)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ami-data-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    config = CollectConfig(
        world="two_room",
        episodes=args.episodes,
        steps_per_episode=50,
        image_size=SIZE,
        policy="mixed",
        seed=0,
    )
    source = collect_to_file(config, work / "two_room_96.h5", progress=True)
    sources = {"swm-h5": work / "tworoom.h5", "ogbench": work / "visual-tworoom.npz"}
    with ExperienceDataset.open(source) as dataset:
        frames, decoded = dataset.num_frames, dataset.num_frames * SIZE * SIZE * 3
        write_swm_h5(dataset, sources["swm-h5"])
        write_ogbench(dataset, sources["ogbench"])
    if importlib.util.find_spec("ami.experience.lerobot_export") is not None:
        from ami.experience.lerobot_export import export_dataset_file

        sources["lerobot"] = export_dataset_file(source, work / "lerobot", fps=10)
    idle = peak_run(["--help"], work)[1]
    imports: dict[str, dict] = {}
    for name, path in sources.items():
        out = work / f"imported-{name}.h5"
        out.unlink(missing_ok=True)
        seconds, peak, _ = peak_run(["import", f"{name}:{path}", str(out), "--quiet"], work)
        size = (
            sum(p.stat().st_size for p in Path(path).rglob("*"))
            if Path(path).is_dir()
            else Path(path).stat().st_size
        )
        imports[name] = {
            "seconds": round(seconds, 2),
            "frames_per_second": round(frames / seconds, 1),
            "peak_rss_mib": round(peak / 2**20, 1),
            "source_mib": round(size / 2**20, 2),
            "imported": out,
        }
        print(
            f"import {name}: {seconds:.1f} s, {frames / seconds:.0f} frames/s, peak "
            f"{peak / 2**20:.0f} MiB ({size / 2**20:.0f} MiB on disk)"
        )
    ours = work / "two_room_64.h5"
    collect_to_file(replace(config, image_size=64), ours, progress=False)
    trained: dict[str, dict] = {}
    for name, data in {"ami": ours, **{k: v["imported"] for k, v in imports.items()}}.items():
        run = work / f"run-{name}"
        _, peak, stderr = peak_run(
            [
                "train",
                "--data",
                str(data),
                "--out",
                str(run),
                "--preset",
                "demo",
                "--steps",
                str(args.steps),
                "--quiet",
                "--device",
                "cpu",
                "--precision",
                "fp32",
            ],
            work,
        )
        found = re.search(r"([\d.]+) frames/s", stderr)
        rate = float(found.group(1)) if found else float("nan")
        trained[name] = {
            "frames_per_second": rate,
            "steps": args.steps,
            "peak_rss_mib": round(peak / 2**20, 1),
        }
        print(f"train on {name}: {rate:.0f} frames/s, peak {peak / 2**20:.0f} MiB")
    streaming = stream_under_limit(ours, work, args)
    write_results(
        "data",
        {
            "dataset": f"two_room, {args.episodes} episodes x 50 steps, {frames} frames at "
            f"{SIZE}x{SIZE} ({decoded / 2**20:.0f} MiB of decoded frames), imported at 64",
            "process_baseline_rss_mib": round(idle / 2**20, 1),
            "imports": {
                k: {kk: vv for kk, vv in v.items() if kk != "imported"} for k, v in imports.items()
            },
            "training": trained,
            "streaming": streaming,
            "how": "each import and each training run in a process of its own, its peak resident "
            "memory its VmHWM; demo recipe, fp32, CPU",
        },
    )


if __name__ == "__main__":
    main()
