"""The `ami` command line: `main` runs it, `app` is its Typer application.

`commands.py` holds `demo`, `collect` and `eval` (and the app); `training.py` `ami train`;
`memory.py` the `ami memory` group; `understanding.py` `ami probe` and `ami surprise`; `live.py`
`ami live`; `exit.py` the exit codes, signals and the one line printed for an error a user can
cause.
"""

from ami.cli.commands import app, main

__all__ = ["app", "main"]
