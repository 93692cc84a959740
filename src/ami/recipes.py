"""Recipes: every setting of a whole run (collect → train → plan → evaluate) in one frozen object.

A recipe is plain data: it is saved as `recipe.json` with every run and can be loaded back
(`load_recipe`), so a figure can always be traced to the exact settings that produced it. Named
presets are plain instances: `demo` (the `ami demo` default, TwoRoom, sized for ≤ 10 minutes on 2
CPU cores), `tiny` (seconds, for tests and smoke runs), `push_t` and `reacher` (the benchmark
table's), and `cube` (OGBench's cube-single, sized for about 2 hours on 2 CPU cores).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ami.agent import GoalCostConfig
from ami.config import (
    config_from_dict,
    config_to_dict,
    require_fits_memory,
    require_in_range,
    require_positive,
)
from ami.errors import ConfigError
from ami.experience import CollectConfig, WindowConfig
from ami.model import EncoderConfig, PredictorConfig, WorldModelConfig
from ami.planning import (
    CEMConfig,
    GradientConfig,
    ICEMConfig,
    MPCConfig,
    MPPIConfig,
    PredictiveSamplingConfig,
    SolverConfig,
)
from ami.training import ObjectiveConfig, TrainConfig


@dataclass(frozen=True)
class PlannerConfig:
    """How the agent plans: a solver under MPC towards a goal energy.

    Attributes:
        solver: which solver (`solver.name`: cem, icem, mppi, gradient, predictive_sampling)
            and the settings of each.
        mpc: horizon (model steps) and model steps executed per plan.
        cost: how the goal energy is reduced over the horizon.
        hold_actions: plan one env action per model step, held for its k env steps.
    """

    solver: SolverConfig = field(default_factory=SolverConfig)
    mpc: MPCConfig = field(default_factory=MPCConfig)
    cost: GoalCostConfig = field(default_factory=GoalCostConfig)
    hold_actions: bool = True


@dataclass(frozen=True)
class Recipe:
    """A whole run.

    Attributes:
        name: preset name (or "custom").
        collect: what experience to collect (world, episodes, policy, seed).
        window: training windows (length T in model steps, frameskip k).
        model: the world model; `model.frameskip` must equal `window.frameskip`.
        train: optimisation.
        planner: planning at evaluation time.
        valid_fraction: share of episodes held out for validation losses.
        eval_episodes: episodes per evaluation protocol.
        gif_episodes: how many evaluation episodes the report's GIF shows.
    """

    name: str = "custom"
    collect: CollectConfig = field(
        default_factory=lambda: CollectConfig(
            world="two_room", episodes=1000, steps_per_episode=100, policy="mixed"
        )
    )
    window: WindowConfig = field(default_factory=lambda: WindowConfig(length=4, frameskip=5))
    model: WorldModelConfig = field(
        default_factory=lambda: WorldModelConfig(
            predictor=PredictorConfig(action_dim=10), frameskip=5
        )
    )
    train: TrainConfig = field(default_factory=TrainConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    valid_fraction: float = 0.05
    eval_episodes: int = 50
    gif_episodes: int = 4

    def __post_init__(self) -> None:
        if self.model.frameskip != self.window.frameskip:
            raise ConfigError(
                f"Recipe.model.frameskip ({self.model.frameskip}) must equal "
                f"Recipe.window.frameskip ({self.window.frameskip})"
            )
        if self.collect.image_size != self.model.encoder.image_size:
            raise ConfigError(
                f"Recipe.collect.image_size ({self.collect.image_size}) must equal "
                f"Recipe.model.encoder.image_size ({self.model.encoder.image_size})"
            )
        if 4 * self.train.shift_pixels >= self.model.encoder.image_size:
            raise ConfigError(
                f"Recipe.train.shift_pixels ({self.train.shift_pixels}) must be under a quarter "
                f"of Recipe.model.encoder.image_size ({self.model.encoder.image_size})"
            )
        require_in_range("Recipe", "valid_fraction", self.valid_fraction, 0.0, 0.5)
        require_positive("Recipe", "eval_episodes", self.eval_episodes)
        frames = self.train.batch_size * self.window.length
        side = self.model.encoder.image_size
        require_fits_memory(  # the batch's pixels and the encoder's activations (a lower bound)
            f"Recipe with train.batch_size={self.train.batch_size} windows of "
            f"window.length={self.window.length} frames of {side}x{side} pixels",
            frames * 3 * side * side + self.model.encoder.activation_bytes(frames),
        )


# Every solver at about the CEM budget (200 candidates x 4 iterations), so they compare fairly.
MATCHED_SOLVERS = SolverConfig(
    cem=CEMConfig(samples=200, elites=20, iterations=4),
    icem=ICEMConfig(samples=200, elites=20, iterations=4),
    mppi=MPPIConfig(samples=200, iterations=4),
    gradient=GradientConfig(samples=16, iterations=25),
    predictive_sampling=PredictiveSamplingConfig(samples=200, iterations=4),
)

DEMO = Recipe(
    name="demo",
    collect=CollectConfig(world="two_room", episodes=1000, steps_per_episode=100, policy="mixed"),
    window=WindowConfig(length=4, frameskip=5),
    model=WorldModelConfig(
        encoder=EncoderConfig(channels=(16, 32, 64, 64), hidden=256, embed_dim=64),
        predictor=PredictorConfig(embed_dim=64, action_dim=10, hidden=256),
        frameskip=5,
    ),
    # half the windows change hue part-way, so the encoder ignores colour (the colour-change
    # control of `ami surprise`; python -m benchmarks.colour_shift: planning unchanged)
    train=TrainConfig(
        steps=1500,
        batch_size=64,
        colour_shift=0.5,
        objective=ObjectiveConfig(sigreg_weight=1.0),
    ),
    planner=PlannerConfig(
        solver=MATCHED_SOLVERS,
        mpc=MPCConfig(horizon=10, execute=1),
        cost=GoalCostConfig(reduce="min", action_weight=0.01),
    ),
    eval_episodes=50,
)

TINY = Recipe(
    name="tiny",
    collect=CollectConfig(
        world="two_room", episodes=40, steps_per_episode=40, policy="mixed", image_size=32
    ),
    window=WindowConfig(length=3, frameskip=2),
    model=WorldModelConfig(
        encoder=EncoderConfig(image_size=32, channels=(8, 16, 16), hidden=64, embed_dim=16),
        predictor=PredictorConfig(embed_dim=16, action_dim=4, hidden=32, depth=2),
        frameskip=2,
    ),
    train=TrainConfig(
        steps=60, batch_size=16, warmup_steps=10, log_every=10, valid_every=30, checkpoint_every=30
    ),
    planner=PlannerConfig(
        solver=SolverConfig(cem=CEMConfig(samples=32, elites=4, iterations=2)),
        mpc=MPCConfig(horizon=4, execute=1),
    ),
    eval_episodes=4,
    gif_episodes=1,
)

# The benchmark table's recipes (`python -m benchmarks.table`). One model step is a block of 5 env
# steps (LeWM's frameskip), so the protocol's budget of 50 env steps is 10 plans. PushT: a wider
# predictor over the last 3 embeddings, 6-step windows, colour shift, symmetries, 22,000 steps in
# bf16 where the CPU runs it natively. How it came to be: docs/results/push_t.md.
PUSH_T = Recipe(
    name="push_t",
    collect=CollectConfig(
        world="push_t", episodes=6000, steps_per_episode=100, policy="mixed", expert_fraction=0.8
    ),
    window=WindowConfig(length=6, frameskip=5),
    model=WorldModelConfig(
        encoder=DEMO.model.encoder,
        predictor=PredictorConfig(embed_dim=64, action_dim=10, history=3, hidden=512, depth=3),
        frameskip=5,
    ),
    train=TrainConfig(
        steps=22000,
        batch_size=64,
        colour_shift=0.5,
        symmetries=True,
        precision="auto",
        compile="auto",
        objective=ObjectiveConfig(sigreg_weight=1.0),
    ),
    planner=DEMO.planner,
    eval_episodes=50,
)

# Reacher v3: the predictor reads the last 3 embeddings over 6-step windows (a torque-driven arm's
# next position depends on its velocities) and frames hide the target disc (`target_visible`).
# How it came to be: docs/results/reacher.md.
REACHER = Recipe(
    name="reacher",
    collect=CollectConfig(
        world="reacher",
        episodes=3000,
        steps_per_episode=100,
        policy="mixed",
        expert_fraction=0.8,
        world_options={"target_visible": False},
    ),
    window=WindowConfig(length=6, frameskip=5),
    model=WorldModelConfig(
        encoder=DEMO.model.encoder,
        predictor=PredictorConfig(embed_dim=64, action_dim=10, history=3, hidden=256, depth=3),
        frameskip=5,
    ),
    train=TrainConfig(steps=4000, batch_size=64, objective=ObjectiveConfig(sigreg_weight=1.0)),
    planner=DEMO.planner,
    eval_episodes=50,
)

# Cube (OGBench's cube-single, `ami.worlds.cube`): the scripted expert's play data (OGBench's
# plan noise and 1 % random-action segments, `ami.experience.cube_expert`), whole 200-step episodes
# (a pick-and-place takes about 100-150 steps); Reacher's model (a predictor over the last 3
# embeddings, 6-step windows of 5-step blocks, action input 5 x 5). Sized for about 2 hours on 2
# CPU cores, collection included, assuming (not measured for this recipe) ~260 env steps/s on one
# loaded core with the fast renderer (1500 x 200 = 300,000 steps: ~20 min) and ~1,300 training
# frames/s on 2 threads (docs/results/speed.md's 1,524 for the demo model; 64 x 6 frames a step:
# ~0.3 s, 18,000 steps: ~90 min). The frames take 3.7 GB in memory, as Reacher's.
CUBE = Recipe(
    name="cube",
    collect=CollectConfig(world="cube", episodes=1500, steps_per_episode=200, policy="expert"),
    window=WindowConfig(length=6, frameskip=5),
    model=replace(REACHER.model, predictor=replace(REACHER.model.predictor, action_dim=25)),
    train=TrainConfig(steps=18000, batch_size=64, objective=ObjectiveConfig(sigreg_weight=1.0)),
    planner=DEMO.planner,
    eval_episodes=50,
)

PRESETS = {"demo": DEMO, "tiny": TINY, "push_t": PUSH_T, "reacher": REACHER, "cube": CUBE}


def preset(name: str) -> Recipe:
    """The named preset recipe."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known presets: {sorted(PRESETS)}")
    return PRESETS[name]


# The parts of a recipe that determine its trained model (planning and evaluation do not).
MODEL_PARTS = ("collect", "window", "model", "train", "valid_fraction")


def trains_the_same_model(a: Recipe, b: Recipe) -> bool:
    """Whether `a` and `b` train the same model (they may plan or evaluate differently).

    How many processes draw the batches (`TrainConfig.loader_workers`) does not count: the
    batches are the same with any number.
    """
    a = replace(a, train=replace(a.train, loader_workers=b.train.loader_workers))
    return all(getattr(a, part) == getattr(b, part) for part in MODEL_PARTS)


def image_size(recipe: Recipe) -> int:
    """The pixel size the world renders at for this recipe (the encoder's input size)."""
    return recipe.model.encoder.image_size


def world_settings(recipe: Recipe) -> dict[str, Any]:
    """The world settings the recipe's agent sees: its pixel size and the collection's options."""
    return {"size": image_size(recipe), **recipe.collect.world_options}


def with_solver(recipe: Recipe, name: str) -> Recipe:
    """The recipe planning with the named solver (its settings as in the recipe)."""
    solver = replace(recipe.planner.solver, name=name)
    return replace(recipe, planner=replace(recipe.planner, solver=solver))


def with_seed(recipe: Recipe, seed: int) -> Recipe:
    """The recipe with `seed` for collection and training."""
    train = replace(recipe.train, seed=seed)  # first, so that a bad seed names TrainConfig.seed
    return replace(recipe, collect=replace(recipe.collect, seed=seed), train=train)


def save_recipe(recipe: Recipe, path: Path) -> Path:
    """Write the recipe as JSON (atomically)."""
    from ami.files import atomic_write_bytes

    return atomic_write_bytes(path, json.dumps(config_to_dict(recipe), indent=2).encode())


def load_recipe(path: Path) -> Recipe:
    """Read a recipe JSON file.

    Raises:
        ConfigError: the file is missing or unreadable, not UTF-8 JSON (or nested too deeply),
            not a JSON object, has unknown keys or ill-typed or bad values; the message names
            the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe file not found: {path}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"recipe file {path} cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"recipe file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"recipe file {path} is not valid JSON: {exc.msg} (line {exc.lineno}, column "
            f"{exc.colno})"
        ) from None
    except RecursionError:
        raise ConfigError(f"recipe file {path} is nested too deeply to be a recipe") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"recipe file {path} must hold a JSON object of recipe fields, got a "
            f"{type(data).__name__}"
        )
    try:
        return config_from_dict(Recipe, data)
    except ConfigError as exc:
        raise ConfigError(f"recipe file {path}: {exc}") from None
