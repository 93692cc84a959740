"""A griffe extension for the API reference: doctest examples render as Python console code.

Docstrings write their examples as doctests (`>>>` lines and the expected output), which `make
test` runs. Outside a Google "Examples:" section Markdown would read `>>>` as nested quotes and
`[...]` output as links, so each run of doctest lines (from a `>>>` line to the next blank line)
outside such a section is wrapped in a fenced `pycon` block, and an indented "Example:" section
becomes "Examples:". Only the rendered page changes; the docstrings in the code stay as they are.
"""

from __future__ import annotations

from typing import Any

import griffe


def _indent(line: str) -> int:
    """The number of leading spaces of `line`."""
    return len(line) - len(line.lstrip())


def fence_doctests(text: str) -> str:
    """`text` with every run of doctest lines outside an Examples section in a pycon fence."""
    out: list[str] = []
    lines = text.splitlines()
    section: int | None = None  # indentation of the "Examples:" heading we are under
    index = 0
    while index < len(lines):
        line = lines[index]
        if section is not None and line.strip() and _indent(line) <= section:
            section = None
        if line.strip() in ("Example:", "Examples:"):
            following = next((other for other in lines[index + 1 :] if other.strip()), "")
            if _indent(following) > _indent(line):
                section = _indent(line)
                line = line.replace("Example:", "Examples:")
        if section is not None or not line.lstrip().startswith(">>>"):
            out.append(line)
            index += 1
            continue
        out.append(" " * _indent(line) + "```pycon")
        while index < len(lines) and lines[index].strip():
            out.append(lines[index])
            index += 1
        out.append(" " * _indent(line) + "```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctest examples of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite `obj`'s docstring (if any) before it is parsed and rendered."""
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
