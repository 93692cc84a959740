"""The layer table of docs/architecture.md holds: no module imports from a layer above its own.

The table's second column names the modules and packages of each layer (`config.py`,
`worlds/`, ...); every `import ami.X` / `from ami.X import ...` in `src/ami` (at any depth, lazy
imports inside functions included) is checked against it. Every module and package of `src/ami`
must have a row, so a new one cannot slip past the table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ami"
ROW = re.compile(r"^\|\s*(\d+)\s*\|([^|]*)\|")


def layer_table() -> dict[str, int]:
    """Top-level name under `ami` (module or package) -> its layer, read from the table."""
    layers: dict[str, int] = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            for name in re.findall(r"`([^`]+)`", match.group(2)):
                layers[name.removesuffix(".py").removesuffix("/")] = int(match.group(1))
    return layers


def top_level(path: Path) -> str:
    """The top-level name under `ami` that `path` belongs to (`worlds`, `config`, ...)."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_top_levels(path: Path) -> set[str]:
    """Top-level names under `ami` that the module at `path` imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "ami":
                modules = [f"ami.{alias.name}" for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "ami" and len(parts) > 1:
                names.add(parts[1])
    return names


def sources() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name not in ("__init__.py", "__main__.py") or p.parent != PACKAGE
    ]


def test_every_module_has_a_row_in_the_layer_table() -> None:
    layers = layer_table()
    missing = sorted({top_level(path) for path in sources()} - set(layers))
    assert not missing, f"modules without a row in docs/architecture.md's layer table: {missing}"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    layers = layer_table()
    upward = []
    for path in sources():
        own = layers.get(top_level(path))
        for name in imported_top_levels(path):
            if own is not None and name in layers and layers[name] > own:
                where = path.relative_to(PACKAGE)
                upward.append(f"{where} (layer {own}) imports ami.{name} (layer {layers[name]})")
    assert not upward, "\n".join(upward)
