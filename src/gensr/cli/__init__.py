"""The ``gensr`` command line: ``generate``, ``train``, ``fit``, ``interpolate``, ``probe`` and ``bench``.

Each subcommand is a thin call into one library function, in a module of its own (:mod:`gensr.cli.fit`,
:mod:`gensr.cli.train` for ``generate`` and ``train``, :mod:`gensr.cli.latent` for ``interpolate`` and
``probe``, :mod:`gensr.cli.bench`). ``main(argv)`` returns the exit code: 0 on
success, 2 on bad input (a clear one-line message, never a traceback), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Sequence

from gensr.cli import bench, fit, latent, train

# What the interpreter had spent when this module was imported: the start-up that ``--max-time`` charges when
# ``gensr`` runs as a program. CPU time (not the process's age in /proc) because a shell that execs
# ``gensr`` as the last command of ``bash -c 'pip install … && gensr …'`` hands over its own start time,
# while the CPU time of the commands it ran before (child processes) is not this process's.
_IMPORTED_AT = time.monotonic()
_STARTUP_CPU = time.process_time()


def build_parser() -> argparse.ArgumentParser:
    from gensr._version import __version__

    parser = argparse.ArgumentParser(prog="gensr", description="Symbolic regression in a generative equation "
                                     "space (GenSR).")
    parser.add_argument("--version", action="version", version=f"gensr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (train.add_generate, train.add_train, fit.add_fit, latent.add_interpolate, latent.add_probe,
                bench.add_bench):
        add(sub)
    return parser


def _startup_seconds() -> float:
    """What this process spent before ``main()``: the interpreter's start-up and imports.

    The CPU time used before this module was imported (the interpreter's own start; the CPU of commands a
    shell ran before exec-ing ``gensr`` belongs to other processes) plus the wall time since the import.
    """
    return _STARTUP_CPU + (time.monotonic() - _IMPORTED_AT)


_COMMANDS = {"generate": train.cmd_generate, "train": train.cmd_train, "fit": fit.cmd_fit,
             "interpolate": latent.cmd_interpolate, "probe": latent.cmd_probe, "bench": bench.cmd_bench}


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: object = None, line: str | None = None) -> None:
    print(f"gensr: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gensr`` console script; returns the process exit code."""
    started = time.monotonic()
    if argv is None:  # gensr runs as the program: its start-up counts against --max-time
        started -= _startup_seconds()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started = started
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning  # restored on exit: a CLI prints one line per warning
            return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("gensr: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, OSError) as exc:
        print(f"gensr {args.command}: error: {exc}", file=sys.stderr)
        return 2
