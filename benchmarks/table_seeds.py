"""The noise of one training run: a world's best solver over several training seeds.

`python -m benchmarks.table --seeds 3` trains each world's recipe again with training seeds 1 and 2
(seed 0 is the table's own model; the collected data is the same for every seed: only the
initialisation and the order of the batches change), evaluates the world's best solver of this
run on the same 50 protocol episodes, and writes `worlds[world]["seeds"]` into table.json: the
success per seed and their mean +- sample standard deviation, beside the single-run rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ami.errors import ConfigError
from ami.recipes import Recipe


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (n - 1 in the denominator) of `values`, and n.

    Raises:
        ConfigError: fewer than two values (no spread), or a value that is not finite.
    """
    numbers = [float(v) for v in values]
    if len(numbers) < 2:
        raise ConfigError(f"a spread needs at least two seeds, got {len(numbers)}")
    if not all(math.isfinite(v) for v in numbers):
        raise ConfigError(f"a spread of non-finite values: {numbers}")
    mean = sum(numbers) / len(numbers)
    variance = sum((v - mean) ** 2 for v in numbers) / (len(numbers) - 1)
    return {"mean": mean, "sd": math.sqrt(variance), "n": len(numbers), "values": numbers}


def seeded(recipe: Recipe, seed: int) -> Recipe:
    """`recipe` trained from training seed `seed` (seed 0: the recipe itself, its own name)."""
    if seed == 0:
        return recipe
    return replace(recipe, name=f"{recipe.name}_seed{seed}", train=replace(recipe.train, seed=seed))


def best_row(rows: list[dict[str, Any]], world: str) -> dict[str, Any]:
    """The row of `world` with the highest success (the first such solver on a tie).

    Raises:
        ConfigError: no row of `world`.
    """
    mine = [row for row in rows if row["world"] == world]
    if not mine:
        raise ConfigError(f"no table row of world {world!r}")
    return max(mine, key=lambda row: row["success_rate"])


def format_spread(summary: dict[str, Any]) -> str:
    """`mean +- sd (n seeds)` in percent, e.g. `88 +- 3 % (3 seeds)`."""
    return f"{100 * summary['mean']:.0f} +- {100 * summary['sd']:.0f} % ({summary['n']} seeds)"
