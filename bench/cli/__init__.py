"""The `bench` command line: parse and validate, then call a library function.

Every input error ends with one line on stderr and exit code 2, before anything is written. The group and
its error handling live here; the commands live by role beside it: run.py (run, horizon), probe.py,
reports.py (report, compare), catalog.py (tasks, models, presets, show, check, speed), runs.py (ls, rm, gc,
export); options.py holds the options they share and their translation into a plan (bench/plan.py).
"""

from __future__ import annotations

import signal
import sys
from typing import Any, Sequence

import click

from bench.cli.catalog import COMMANDS as CATALOG_COMMANDS
from bench.cli.common import one_line
from bench.cli.probe import probe
from bench.cli.reports import COMMANDS as REPORT_COMMANDS
from bench.cli.run import horizon, run
from bench.cli.runs import COMMANDS as RUN_COMMANDS
from bench.registry import PluginError


class OneLineErrors(click.Group):
    """A click group whose usage errors are one line (`bench: error: ...`) and exit 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:
        extra.pop("standalone_mode", None)
        arguments = list(sys.argv[1:] if args is None else args)
        extra["obj"] = {"argv": ["bench", *arguments]}  # what the user typed, for the manifest
        if args is None:  # the real command: a closed terminal or a polite kill stops it like Ctrl-C
            for number in (signal.SIGHUP, signal.SIGTERM):
                signal.signal(number, _interrupt)
        try:
            # every option may also come from BENCH_<COMMAND>_<OPTION> (BENCH_RUN_STEPS=2000); the command
            # line wins over the environment, which wins over a --config file's and a preset's defaults
            code = super().main(arguments, prog_name or "bench", standalone_mode=False, auto_envvar_prefix="BENCH",
                                **extra)
        except click.ClickException as error:  # usage errors included: their exit code is 2
            click.echo(f"bench: error: {one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except PluginError as error:  # a broken installed entry point, met while listing names
            click.echo(f"bench: error: {one_line(str(error))}", err=True)
            sys.exit(2)
        except OSError as error:  # a file that cannot be read or written, at any stage: one line, not a traceback
            where = f" ({error.filename})" if getattr(error, "filename", None) else ""
            click.echo(f"bench: error: {one_line(error.strerror or str(error))}{where}", err=True)
            sys.exit(1)
        except (click.Abort, KeyboardInterrupt):
            click.echo("bench: interrupted; finished cells are kept, re-run the command to resume", err=True)
            sys.exit(130)
        if args is None:  # the real command, not an in-process caller such as a test runner
            # the work is done and stored: a Ctrl-C arriving now must not become a traceback on the way out
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(code if isinstance(code, int) else 0)


def _interrupt(number: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(number).name)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="longdep-bench", prog_name="bench")
def cli() -> None:
    """Benchmark how long a dependency recurrent models learn, on synthetic memory tasks."""


for _command in (run, horizon, probe, *REPORT_COMMANDS, *CATALOG_COMMANDS, *RUN_COMMANDS):
    cli.add_command(_command)

main = cli
