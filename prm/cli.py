"""The `prm` command line: one subcommand per stage of the pipeline.

Each subcommand lives in its own module (`prm/commands/<name>.py`) exposing
`add_arguments(parser)` and `run(args) -> int`; modules are imported only when their command runs,
so `prm --help` stays fast. Bad user input raises `UserError`, printed here as one line (exit 2).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from prm import __version__, threads
from prm.errors import UserError

# name -> (module, one-line help). Dispatch is this dict; there is no registry.
COMMANDS = {
    # in pipeline order: problems -> samples -> steps -> labels -> PRM/ORM -> search -> report
    "demo": ("prm.commands.demo", "the whole pipeline on the embedded tasks (math and code) -> report.md"),
    "data": ("prm.commands.data", "convert public benchmarks (GSM8K, MATH500, MATH, HumanEval, MBPP, ProcessBench, ...) into records"),
    "policy": ("prm.commands.policy", "train / inspect the embedded tiny policy (math or code) used by the demo"),
    "sample": ("prm.commands.sample", "sample n solutions per problem from a policy (vLLM or transformers), resumable"),
    "segment": ("prm.commands.segment", "split solutions into steps (math separator, Step-k markers, or code statements)"),
    "verify": ("prm.commands.verify", "check math answers: one --gold/--pred pair or a JSONL --file of pairs or responses"),
    "exec": ("prm.commands.exec", "run code samples against their problems' unit tests in the sandbox"),
    "label": ("prm.commands.label", "label steps: outcome, direct (sympy), mc (Math-Shepherd rollouts), binary (first-error search)"),
    "convert": ("prm.commands.convert", "convert step-labeled data: PRM800K, Math-Shepherd, OpenRLHF, Math-APS, ProcessBench, PRMBench, BiRM"),
    "train": ("prm.commands.train", "train a PRM (per-step) or ORM (outcome / pairwise) on stepwise records; ensembles"),
    "score": ("prm.commands.score", "score samples with a trained PRM / ORM / ensemble (transformers or vLLM)"),
    "search": ("prm.commands.search", "best-of-N sampling + scoring into a pool, or PRM-guided step-level beam search"),
    "serve": ("prm.commands.serve", "serve a PRM / ORM / ensemble over HTTP (auth, limits, batching; OpenRLHF reward API)"),
    "eval": ("prm.commands.eval", "evaluate: best-of-N curves from a scored pool, ProcessBench step F1, step AUROC/ECE"),
    "check": ("prm.commands.check", "validate a JSONL file against the data contract (problems, samples, stepwise records)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prm",
        description="prm-toolkit: process reward models for math and code.\n"
                    "Pipeline: problems -> samples -> steps -> labels -> PRM/ORM -> search -> report.\n"
                    "Run `prm COMMAND --help` for each command's options.\n"
                    "Torch threads: one per free core (cores minus load), waiting passively; set\n"
                    "PRM_THREADS=N to choose (an OMP_NUM_THREADS you set is kept too). See prm/threads.py.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"prm-toolkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # Parse the command name first, then let the command's module add its own options.
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    if argv[0] == "--version":
        parser.parse_args(argv)
    name = argv[0]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r}; choose from: {', '.join(COMMANDS)}")
    try:  # torch threads for every command, set before any of them imports torch (prm/threads.py)
        threads.apply()
    except UserError as err:
        print(f"prm: error: {err}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    sub = _Parser(prog=f"prm {name}", description=module.__doc__ or COMMANDS[name][1],
                  formatter_class=_Formatter)
    module.add_arguments(sub)
    try:
        args = sub.parse_args(argv[1:])
    except _BadArgument as err:
        # a bad flag value is user input like any other: one line, exit 2 (argparse's own exit status)
        print(f"{err.prog}: error: {err} (see {err.prog} --help)", file=sys.stderr)
        return 2
    previous = _on_sigterm_unwind()
    try:
        return int(module.run(args) or 0)
    except UserError as err:
        print(f"prm {name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prm {name}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"prm {name}: terminated (SIGTERM); engines and files were closed", file=sys.stderr)
        return 143
    finally:
        # an output lock (prm/paths.py) ends with its command, however it ended; in-process callers
        # (tests, the demo) then run the next command on the same output without a stale lock
        from prm.paths import release_locks

        release_locks()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so `finally` blocks run: the default action ends Python
    at once, which left vLLM's engine processes (several GiB each) running as orphans after
    `kill <prm pid>` and no temporary file cleaned up. BaseException, like KeyboardInterrupt, so a
    command's `except Exception` does not swallow it."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _on_sigterm_unwind():
    """Install the SIGTERM handler (main thread only); returns the one it replaced, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class _BadArgument(Exception):
    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse, but a parse error raises (printed as one line by `main`) instead of printing usage
    and exiting; sub-actions (`prm data convert`, `prm eval bon`) inherit it."""

    def error(self, message):
        raise _BadArgument(self.prog, message)


if __name__ == "__main__":
    sys.exit(main())
