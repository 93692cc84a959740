"""ami: agents that learn a JEPA world model from pixels, remember, and plan in its latent space.

The public API, importable from `ami` alone:

Worlds and experience
    `make(name, **settings)` (a registered world: two_room, maze, push_t, reacher, cube),
    `from_gymnasium(env_id)` (any Gymnasium env with rgb_array rendering as an ami world),
    `collect(config, path)` (experience into an HDF5 dataset), `CollectConfig`.
Recipes
    `Recipe` (every setting of a run), `preset(name)` (demo, tiny, push_t, reacher, cube),
    `PRESETS`, `load_recipe(path)`, `save_recipe(recipe, path)`.
World model and training
    `WorldModel` (encode, predict, rollout, save, load), `WorldModelConfig`,
    `train(recipe, data, run_dir, device)` (a run folder with checkpoint, metrics and curves).
Agents and planning
    `make_agent(model, recipe)` (the recipe's planner: a `PlanningAgent`), `PlanningAgent`,
    `run_episode(env, agent, reset_options, budget)`.
Memory
    `Memory` (the persistent SQLite memory: remember, recall, labels, the graph of places).
Evaluation
    `evaluate(protocol, agent)` (agent and random floor on the same held-out episodes),
    `protocol_by_name(name, episodes, world)`.
Machine and errors
    `resolve_device(spec)` ("auto": CUDA, then MPS, then the CPU), `seed_everything(seed)`,
    `AmiError` (every error a user can cause; one line).

Example:
>>> import ami
>>> recipe = ami.preset("tiny")
>>> recipe.collect.world
'two_room'
"""

__version__ = "0.1.0"

from ami.agent import PlanningAgent, run_episode  # noqa: E402
from ami.device import resolve_device, seed_everything  # noqa: E402
from ami.errors import AmiError  # noqa: E402
from ami.evaluation.protocols import protocol_by_name  # noqa: E402
from ami.evaluation.runner import evaluate  # noqa: E402
from ami.experience import CollectConfig  # noqa: E402
from ami.memory import Memory  # noqa: E402
from ami.model import WorldModel, WorldModelConfig  # noqa: E402
from ami.pipeline import make_agent  # noqa: E402
from ami.pipeline import run_collect as collect  # noqa: E402
from ami.pipeline import run_train as train  # noqa: E402
from ami.recipes import PRESETS, Recipe, load_recipe, preset, save_recipe  # noqa: E402
from ami.worlds import from_gymnasium, make  # noqa: E402

__all__ = [
    "PRESETS",
    "AmiError",
    "CollectConfig",
    "Memory",
    "PlanningAgent",
    "Recipe",
    "WorldModel",
    "WorldModelConfig",
    "__version__",
    "collect",
    "evaluate",
    "from_gymnasium",
    "load_recipe",
    "make",
    "make_agent",
    "preset",
    "protocol_by_name",
    "resolve_device",
    "run_episode",
    "save_recipe",
    "seed_everything",
    "train",
]
