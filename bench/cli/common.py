"""What the command modules share: option types (comma lists of numbers and registered names), --plugin,
checked paths, run folders whose cells can be read, and one-line messages."""

from __future__ import annotations

import contextlib
import math
import os
import re
from pathlib import Path
from typing import Any, Iterator

import click

from bench import models  # the registry only: torch is imported when a model is built
from bench.registry import PluginError


def writable_file(path: Path | None, hint: str) -> Path | None:
    from bench.plan import can_create_in

    folder = path and path.absolute().parent
    if path is not None and (not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK)
                             or not can_create_in(folder)):
        raise click.BadParameter(f"{path} cannot be written (no folder {folder} with write permission)",
                                 param_hint=hint)
    return path


def writable_file_option(*names: str, **settings: Any) -> Any:
    """A file path option that must be writable (its folder exists and may be written)."""
    return click.option(*names, type=click.Path(dir_okay=False, path_type=Path),
                        callback=lambda ctx, param, value: writable_file(value, f"'{param.opts[0]}'"), **settings)


@contextlib.contextmanager
def reachable(*run_dirs: Path) -> Iterator[None]:
    """Run folders whose cells can be read: exit 2 with one line, nothing written, when one is not a run
    folder or its finished cells are out of reach (a folder copied out of its results root)."""
    from bench.store import CellsUnreachable, DamagedRun

    for run_dir in run_dirs:
        require_run(run_dir)
    try:
        yield
    except (CellsUnreachable, DamagedRun) as error:
        raise click.BadParameter(str(error), param_hint="RUN") from None


def require_run(run_dir: Path) -> None:
    if not (run_dir / "manifest.json").is_file():
        raise click.BadParameter(f"{run_dir} has no manifest.json: not a bench run folder", param_hint="RUN")


def one_line(message: str) -> str:
    """The message with newlines and other control characters (a user's value may hold any) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)


class IntList(click.ParamType):
    """`50,200,1000` -> (50, 200, 1000), sorted and without repeats, each within [low, high]."""

    name = "list"

    def __init__(self, what: str, low: int, high: int) -> None:
        self.what, self.low, self.high = what, low, high

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        items = [item.strip() for item in str(value).split(",")]
        if not items or any(not re.fullmatch(r"[+-]?\d+", item) for item in items):
            self.fail(f"{value!r} is not a comma-separated list of whole numbers, e.g. 50,200,1000", param, ctx)
        numbers = sorted(set(int(item) for item in items))
        for number in numbers:
            if not self.low <= number <= self.high:
                self.fail(f"{self.what} {number} is outside {self.low}..{self.high:,}", param, ctx)
        return tuple(numbers)


class NameList(click.ParamType):
    """`rnn,lstm` -> ('rnn', 'lstm'), each a registered name or NAME:key=value string (unknown names get
    suggestions)."""

    name = "names"

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        """Each item in its canonical spelling (bench.plan's rule), or a one-line error saying what is wrong."""
        if isinstance(value, tuple):
            return value
        from bench import plan
        from bench.registry import split_variant_list

        canonical = plan.canonical_tasks if self.kind == "task" else plan.canonical_models
        try:
            return canonical(split_variant_list(str(value)))
        except plan.PlanError as error:
            self.fail(str(error), param, ctx)

    def shell_complete(self, ctx: Any, param: Any, incomplete: str) -> list[Any]:
        """Tab completion of the last name of a comma list (`rnn,l<TAB>` -> `rnn,lstm`)."""
        from click.shell_completion import CompletionItem

        done, _, last = incomplete.rpartition(",")
        prefix = f"{done}," if done else ""
        if self.kind == "task":
            import longdep_tasks as tasks

            known = tasks.names()
        else:
            known = models.registry.names()
        return [CompletionItem(prefix + name) for name in known if name.startswith(last)]

class FiniteFloat(click.FloatRange):
    """A float range that also refuses nan and inf (click's FloatRange lets nan through)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def load_plugins(ctx: click.Context, param: click.Parameter, paths: tuple[str, ...]) -> tuple[str, ...]:
    """`--plugin FILE.py` (repeatable): import each file before any other option is checked, so the
    tasks and models it registers are valid names."""
    if not paths:
        return paths
    from bench.plugins import load_plugin

    for path in paths:
        try:
            load_plugin(path)
        except PluginError as error:  # unreadable, or raised on import (a name registered twice included)
            raise click.BadParameter(str(error), param=param) from None
    return paths


plugin_option = click.option(
    "--plugin", "plugins", multiple=True, type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
    callback=load_plugins, help="A Python file that registers tasks or models (repeatable).")


def frame_records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts (NaN and NA as null, numpy scalars as numbers)."""
    import json

    return json.loads(frame.to_json(orient="records"))


def fitted(text: str, width: int | None = None) -> str:
    """`text` with every line longer than the terminal (or `width`, or COLUMNS) wrapped under a hanging
    indent; unchanged when it goes to no terminal and COLUMNS is unset (a log keeps whole lines)."""
    import shutil
    import sys
    import textwrap

    if width is None:
        if not (sys.stdout.isatty() or os.environ.get("COLUMNS")):
            return text
        width = shutil.get_terminal_size((120, 24)).columns
    lines = []
    for line in text.split("\n"):
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        lines += textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) if len(line) > width \
            else [line]
    return "\n".join(lines)
