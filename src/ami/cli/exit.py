"""How the `ami` command ends: signals as interrupts, exit codes, one line for OS errors.

Ctrl-C (SIGINT) and SIGTERM both raise `KeyboardInterrupt` in the main thread, so every `finally`
of the atomic writers runs and removes its temporary file, whichever signal stopped the command;
which signal it was is remembered for the exit code (128 + its number: 130, 143).
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from types import FrameType
from typing import NoReturn, TextIO

import typer

from ami.errors import AmiError

INTERRUPTED = 130
"""The exit code typer's `Exit` carries for a `KeyboardInterrupt` (128 + SIGINT)."""
REDELIVERY_S = 0.01
"""How long after a dropped interrupt it is delivered again."""


def run_app(app: typer.Typer) -> NoReturn:
    """Run the command line `sys.argv` names with `app` and exit with its status.

    Ctrl-C (SIGINT) and SIGTERM interrupt the command (its temporary files are removed), which
    says `ami: interrupted` and exits 128 + the signal's number (130, 143). `typer.Exit(n)` exits
    `n`. An `AmiError` is its one line, exit 2; so is an `OSError` that reaches here (disk full,
    no permission, read-only filesystem), naming the file. Any other exception is a bug and keeps
    its traceback.
    """
    received: list[int] = []
    warnings.showwarning = _warning_line
    try:
        with interrupts_from_signals(received):
            code = _status(app)
    except KeyboardInterrupt:  # one delivered again just as the block ended
        code = INTERRUPTED
    if code == INTERRUPTED and received:
        _exit("ami: interrupted", interrupted_exit_code(received))
    sys.exit(code)


def _warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr: `ami: warning: <message>` (no source location)."""
    text = " ".join(str(message).split())
    print(f"ami: warning: {text}", file=sys.stderr if file is None else file)


def _status(app: typer.Typer) -> int:
    """The exit status of running `app`; user errors printed as one line (and exited)."""
    try:
        # non-standalone click returns an Exit's code (typer turns Ctrl-C into Exit(130))
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        return INTERRUPTED
    except AmiError as error:
        _exit(f"ami: error: {error}", error.exit_code)
    except OSError as error:
        _exit(f"ami: error: {os_error_line(error)}", 2)
    except typer.Abort:
        _exit("ami: aborted", INTERRUPTED)
    except typer.Exit as done:
        return int(done.exit_code)
    except Exception as error:  # click usage errors arrive here in non-standalone mode
        # click may be typer's vendored copy or the click package: recognise it by class name
        if any(cls.__name__ == "ClickException" for cls in type(error).__mro__):
            error.show()  # type: ignore[attr-defined]
            sys.exit(error.exit_code)  # type: ignore[attr-defined]
        raise
    return code if isinstance(code, int) else 0


def _exit(line: str, code: int) -> NoReturn:
    print(line, file=sys.stderr)
    sys.exit(code)


class SignalInterrupt(KeyboardInterrupt):
    """The `KeyboardInterrupt` a SIGINT or SIGTERM raises within `interrupts_from_signals`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signal.Signals(signum)


@contextlib.contextmanager
def interrupts_from_signals(received: list[int]) -> Iterator[None]:
    """Within the block SIGINT and SIGTERM raise `KeyboardInterrupt`, appended to `received`.

    An interrupt that lands in a destructor or a weakref callback, where Python prints and drops
    exceptions, is delivered again a moment later (`_thread.interrupt_main` from a timer thread,
    once the main thread is out of that callback), so it stops the command all the same; so is
    one that lands in a method of an object marked `defer_interrupts = True` (such as the file
    object h5py writes through, called back from HDF5's C code, which an exception would leave
    half-way through a write and may crash). A
    signal whose handler is not Python's default (ignored by the parent, or set by a caller) is
    left alone, and so are both outside the main thread (where handlers cannot be set). The
    previous handlers are restored at the end of the block.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if _in_a_callback_from_c(frame):
            _deliver_later(signum)
            return
        raise SignalInterrupt(signum)

    def redeliver(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, SignalInterrupt):
            _deliver_later(unraisable.exc_value.signum)
        else:
            previous_hook(unraisable)

    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {
        signum: signal.getsignal(signum)
        for signum, default in defaults.items()
        if in_main_thread and signal.getsignal(signum) is default
    }
    previous_hook = sys.unraisablehook
    for signum in previous:
        signal.signal(signum, interrupt)
    sys.unraisablehook = redeliver
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _in_a_callback_from_c(frame: FrameType | None, depth: int = 3) -> bool:
    """Whether `frame` or the `depth - 1` frames it was called from run a C-called-back method.

    Such a method's object says so with its class attribute `defer_interrupts = True`.
    """
    for _ in range(depth):
        if frame is None:
            return False
        owner = frame.f_locals.get("self")
        if getattr(type(owner), "defer_interrupts", False) is True:
            return True
        frame = frame.f_back
    return False


def _deliver_later(signum: int) -> None:
    """Raise the signal's interrupt in the main thread `REDELIVERY_S` from now."""
    later = threading.Timer(REDELIVERY_S, _thread.interrupt_main, [signum])
    later.daemon = True
    later.start()


def interrupted_exit_code(received: list[int]) -> int:
    """128 + the number of the first signal received (130 when none was: a plain Ctrl-C)."""
    return 128 + received[0] if received else INTERRUPTED


def os_error_line(error: OSError) -> str:
    """One line for an `OSError`: its reason and the file(s) it names (`No space left...: X`)."""
    reason = error.strerror or str(error) or type(error).__name__
    files = [str(name) for name in (error.filename, error.filename2) if name is not None]
    return ": ".join([reason, *files])
