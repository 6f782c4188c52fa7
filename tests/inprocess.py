"""`python -m ingestd ARGS` run inside the test process, as if it were a fresh process.

A real `ingestd` process costs ~3 s to start on a slow 2-core machine, ~2 s of it imports; the CLI tests make
dozens of calls, and the suite has a 10-minute budget. Here the command runs through the same entry point
(`ingestd.cli.main`, so `ConfigError` → exit 2 and typer's own error printing and exit codes are those of the
real command) in the caller's working directory, with the same environment (no INGESTD_CONFIG, COLUMNS=200),
its own standard input, output and error, and with every piece of process-wide state that a fresh process would
start without put in place first and put back afterwards:

- loguru: the CLI's `logs.setup` removes every sink (pytest's and other tests' too); the command logs to a core of
  its own, with the default stderr sink a fresh `import loguru` adds, and the test's logging is untouched;
- `ingestd.cli.context.state` (the config path, the loaded config and so the logging set-up, cached per process);
- the rich consoles the CLI modules make at import (their width and colours are decided then, from the
  environment and whether stdout was a terminal: under `pytest -s` it may have been);
- signal handlers, `sys.excepthook` (typer sets it), `sys.argv`, the garbage collector's thresholds
  (`Intake` tunes them);
- what a process exit would have ended: database engines (disposed, so that no connection or SQLite file stays
  open, and PostgreSQL test databases can be dropped), multiprocessing children (killed). A thread the command
  leaves running cannot be ended from outside: that is an error, and the test should use a real process.

An uncaught exception is printed to stderr as a traceback with exit status 1, `sys.exit(n)` gives status n & 0xFF,
as for a real process. What it cannot give: output written straight to file descriptors 1 and 2 (by C code or by
worker processes) is not captured, and a timeout is only checked once the command has returned. Tests about the
command as a process (signals, a daemon, standard input from a pipe, what a user sees on a terminal) use a real
one.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

PROG_NAME = "python -m ingestd"  # what click names the program in usage lines when run with `-m`
THREAD_GRACE_SECONDS = 5.0


def run(cwd: Path, args: Sequence[str], *, env: Mapping[str, str], stdin: bytes | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m ingestd *args` in `cwd` with `env` as its whole environment; the result as `subprocess.run`
    with `capture_output=True` and decoded output would give it. `stdin` None is an empty standard input."""
    import ingestd.cli  # noqa: F401  (imported here, outside the sandbox: the first call pays for it once)

    cmd = [sys.executable, "-m", "ingestd", *args]
    out, err = _Output(), _Output()
    # as Python sets up the standard streams of a process whose output is a pipe, in a UTF-8 locale
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    stdin_stream = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    started = time.monotonic()
    with contextlib.ExitStack() as stack:  # entered in this order, left in the reverse one
        stack.enter_context(_environment(env))
        stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(_standard_streams(stdin_stream, stdout, stderr, argv=[_main_path(), *args]))
        stack.enter_context(_own_loguru_core())
        stack.enter_context(_process_settings())
        stack.enter_context(_fresh_cli_state())
        stack.enter_context(_reap_what_an_exit_would_end())
        returncode = _main(args)
        stdout.flush()
        stderr.flush()
    result = subprocess.CompletedProcess(cmd, returncode, out.getvalue().decode(), err.getvalue().decode())
    if timeout is not None and time.monotonic() - started > timeout:
        raise subprocess.TimeoutExpired(cmd, timeout, output=result.stdout, stderr=result.stderr)
    return result


def _main(args: Sequence[str]) -> int:
    """`ingestd.cli.main()`, as `python -m ingestd` calls it; its exit status."""
    from ingestd import cli

    try:  # `main` calls `app()`: the same app, given the arguments and the program name `-m` would give it
        with mock.patch.object(cli, "app", partial(cli.app, args=list(args), prog_name=PROG_NAME)):
            cli.main()
    except SystemExit as exc:
        return _exit_status(exc.code)
    except Exception:  # what the interpreter does with an uncaught exception
        traceback.print_exc(file=sys.stderr)
        return 1
    return 0


def _exit_status(code: object) -> int:
    """What the interpreter makes of `sys.exit(code)`: None is 0, an int is its low byte, anything else is
    printed to stderr and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _main_path() -> str:
    """`sys.argv[0]` under `python -m ingestd`: the path of ingestd/__main__.py."""
    spec = importlib.util.find_spec("ingestd.__main__")
    return str(spec.origin) if spec and spec.origin else "ingestd"


class _Output(io.BytesIO):
    """A pipe's far end: what was written stays readable even if the command closes its stdout."""

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _standard_streams(stdin: io.TextIOBase, stdout: io.TextIOBase, stderr: io.TextIOBase, *,
                      argv: list[str]) -> Iterator[None]:
    with mock.patch.object(sys, "stdin", stdin), mock.patch.object(sys, "stdout", stdout), \
            mock.patch.object(sys, "stderr", stderr), mock.patch.object(sys, "argv", argv):
        yield


@contextlib.contextmanager
def _own_loguru_core() -> Iterator[None]:
    """The command's logging in a loguru core of its own, set up as `import loguru` sets up a new process's.
    `logs.setup` calls `logger.remove()`: on the shared core that would take away the sinks of pytest and of
    the test. Loggers bound during the command (`logger.bind(...)`) use the core in place when bound."""
    from loguru import _defaults, logger
    from loguru._logger import Core

    saved = logger._core  # type: ignore[attr-defined]
    logger._core = Core()  # type: ignore[attr-defined]
    try:
        if _defaults.LOGURU_AUTOINIT and sys.stderr:
            logger.add(sys.stderr)
        yield
    finally:
        try:
            logger.remove()  # as at exit: file sinks are closed
        finally:
            logger._core = saved  # type: ignore[attr-defined]


@contextlib.contextmanager
def _process_settings() -> Iterator[None]:
    """Signal handlers, exception hooks and the collector's thresholds, as they were before the command."""
    handlers: dict[signal.Signals, Any] = {}
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            handler = signal.getsignal(sig)
            if handler is not None:  # None: set outside Python, cannot be put back
                handlers[sig] = handler
    hooks = sys.excepthook, threading.excepthook
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        sys.excepthook, threading.excepthook = hooks
        for sig, handler in handlers.items():
            if signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)


@contextlib.contextmanager
def _fresh_cli_state() -> Iterator[None]:
    """The CLI's per-process state as a fresh import has it, put back afterwards."""
    from rich.console import Console

    from ingestd.cli.context import state

    saved_state = {f.name: getattr(state, f.name) for f in fields(state)}
    fresh = type(state)()
    for f in fields(state):
        setattr(state, f.name, getattr(fresh, f.name))
    consoles = [(module, module.console) for name, module in list(sys.modules.items())
                if (name == "ingestd" or name.startswith("ingestd.")) and isinstance(getattr(module, "console", None),
                                                                                        Console)]
    try:
        for module, _ in consoles:
            module.console = Console()  # every module-level console of the CLI is a plain `Console()`
        yield
    finally:
        for module, console in consoles:
            module.console = console
        for name, value in saved_state.items():
            setattr(state, name, value)


@contextlib.contextmanager
def _reap_what_an_exit_would_end() -> Iterator[None]:
    """Database engines, child processes and threads the command started and left: a process exit ends them;
    here engines are disposed and children killed, and a thread still running is an error."""
    from sqlalchemy.engine.base import Engine

    engines: list[Engine] = []  # made while the command runs; recorded, not found by scanning the heap (~0.1 s)
    make_engine = Engine.__init__

    def recording_init(self: Engine, *args: Any, **kwargs: Any) -> None:
        make_engine(self, *args, **kwargs)
        engines.append(self)

    children_before = set(multiprocessing.active_children())
    threads_before = set(threading.enumerate())
    try:
        with mock.patch.object(Engine, "__init__", recording_init):
            yield
    finally:
        for engine in engines:
            engine.dispose()
        for child in set(multiprocessing.active_children()) - children_before:
            child.kill()
            child.join(10)
        deadline = time.monotonic() + THREAD_GRACE_SECONDS
        for thread in set(threading.enumerate()) - threads_before:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [t.name for t in set(threading.enumerate()) - threads_before if t.is_alive()]
        if left:
            raise RuntimeError(f"`ingestd` left threads running ({', '.join(sorted(left))}): a process exit would "
                               "end them, this test process cannot; run this command in a real process")
