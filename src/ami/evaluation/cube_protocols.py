"""The cube world's evaluation protocols (`ami.worlds.cube`), listed in `PROTOCOLS`.

- `goal_25_steps` v1 (the anchors' protocol): start = a random state of a held-out expert
  episode (its first 50 steps: reaching, grasping, lifting), set exactly through
  `Cube.reset_options`; goal = the state 25 steps later (goal image = that frame); budget 50 env
  steps; success = the cube's centre within 0.04 m of the goal's (OGBench's radius). Starts
  where the cube is already there are refused and counted.
- `goal_25_steps_fixed` v1: the same with the start a fixed step into every held-out episode
  (`START_STEP` = 35, where the expert has closed the gripper on the cube in 29 of 30 episodes
  and lifted it in 26), so no draw decides which phase of the task is asked; an episode whose
  start is already solved is refused and counted.
- `ogbench_tasks` v1: OGBench's five cube-single evaluation tasks (`CubeConfig.task` 1..5, start
  jittered by 1 cm, yaw random; episode i is task i mod 5 + 1, its scene drawn with seed + i),
  OGBench's budget of 200 env steps and its success test (the cube within 0.04 m of the
  target); the goal image is the world's own (the start scene with the cube at the target).

The random and zero-action floors run the same episodes beside the agent (`evaluation.runner`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium

from ami.errors import ConfigError
from ami.evaluation.eval_protocol import GOAL_25_STEPS, EpisodeSpec, EvalProtocol
from ami.worlds.cube import TASKS, Cube, make_cube
from ami.worlds.cube_state import state_slice

__all__ = [
    "GOAL_25_STEPS_FIXED",
    "OGBENCH_TASKS",
    "START_STEP",
    "cube_goal_25_steps",
    "cube_goal_25_steps_fixed",
    "cube_ogbench_tasks",
    "task_specs",
]

GOAL_25_STEPS_FIXED = "goal_25_steps_fixed"
OGBENCH_TASKS = "ogbench_tasks"
START_STEP = 35  # the expert has grasped the cube (29 / 30 held-out episodes) and lifted it (26)
OGBENCH_BUDGET = 200  # OGBench's max_episode_steps for cube-single


def cube_goal_25_steps(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """goal_25_steps on the cube: goal 25 steps ahead, budget 50, the cube within 0.04 m."""
    return EvalProtocol(
        name=GOAL_25_STEPS,
        version=1,
        world="cube",
        episodes=episodes,
        seed=seed,
        budget=50,
        success_radius=None,
        pairing="dataset_offset",
        goal_offset=25,
        skip_solved_starts=True,
        description=(
            "Cube goal_25_steps protocol (stable-worldmodel/LeWM's, on OGBench's cube-single): "
            "start = a random state of a held-out expert episode (its first 50 steps: reaching, "
            "grasping, lifting; arm, gripper and cube set exactly), goal = the state 25 steps "
            "later (goal image = that frame), budget 50 env steps, success when the cube's "
            "centre is within 0.04 m of the goal's; starts already there are refused and "
            "counted."
        ),
    )


def cube_goal_25_steps_fixed(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """goal_25_steps with the start at step `START_STEP` of every held-out expert episode."""
    return replace(
        cube_goal_25_steps(episodes, seed),
        name=GOAL_25_STEPS_FIXED,
        start_step=START_STEP,
        description=(
            f"Cube goal_25_steps with a fixed start: start = step {START_STEP} of every "
            "held-out expert episode (the expert has grasped the cube there in 29 of 30 "
            "episodes and lifted it in 26; arm, gripper and cube set exactly), goal = the "
            f"state 25 steps later (step {START_STEP + 25}; goal image = that frame), budget 50 "
            "env steps, success when the cube's centre is within 0.04 m of the goal's; an "
            "episode whose start is already there is refused and counted."
        ),
    )


def cube_ogbench_tasks(episodes: int = 50, seed: int = 1_000_003) -> EvalProtocol:
    """OGBench's five cube-single tasks in turn, its 200-step budget and its success test."""
    return EvalProtocol(
        name=OGBENCH_TASKS,
        version=1,
        world="cube",
        episodes=episodes,
        seed=seed,
        budget=OGBENCH_BUDGET,
        success_radius=None,
        pairing="world_tasks",
        description=(
            f"OGBench's {TASKS} cube-single evaluation tasks (episode i is task i mod {TASKS} + "
            "1: OGBench's start, jittered by 1 cm with a random yaw, and its target; the arm's "
            "pose drawn from the episode's seed), budget 200 env steps (OGBench's), success "
            "when the cube's centre is within 0.04 m of the target (OGBench's test); goal image "
            "= the world's (the start scene with the cube at the target)."
        ),
    )


def task_specs(
    protocol: EvalProtocol, env: gymnasium.Env, world_options: dict[str, Any]
) -> list[EpisodeSpec]:
    """The "world_tasks" episodes: episode i is task i mod 5 + 1, drawn with seed + i.

    Each task's scene is drawn by a world made with that task (`CubeConfig.task`) and recorded
    as reset options (qpos, qvel, target, and the goal scene: the start with the cube at the
    target), which place `env` (a task-0 world) in it exactly.

    Raises:
        ConfigError: `world_options` names a task itself.
    """
    if "task" in world_options:
        raise ConfigError(f"{protocol.name} sets the cube's task itself; drop 'task' from the "
                          "world's options")  # fmt: skip
    size = int(env.observation_space["pixels"].shape[0])  # type: ignore[index]
    makers: dict[int, Cube] = {}
    specs = []
    try:
        for index in range(protocol.episodes):
            task = index % TASKS + 1
            if task not in makers:
                makers[task] = make_cube(size=size, task=task, **world_options)
            world = makers[task]
            start = world.reset(seed=protocol.seed + index)[0]["state"]
            goal = start.copy()  # the start with the cube at the target: the goal scene
            goal[state_slice("cube_position")] = world.target_position()
            goal[state_slice("cube_quaternion")] = world.target_quaternion()
            scenes = world.reset_options(start, goal)  # the cube's states can always be set
            if scenes is None:
                raise ConfigError(f"{protocol.name}: task {task}'s start cannot be set")
            qpos, qvel = world.physics_state()  # exact, where the state vector is float32
            options = {"qpos": qpos, "qvel": qvel, "goal": world.target_position(),
                       "goal_qpos": scenes["goal_qpos"]}  # fmt: skip
            specs.append(EpisodeSpec(options))
    finally:
        for world in makers.values():
            world.close()
    return specs
