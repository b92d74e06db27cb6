"""What the command modules share: checked paths and run folders whose cells can be read."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

import click


def writable_file(path: Path | None, hint: str) -> Path | None:
    folder = path and path.absolute().parent
    if path is not None and (not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK)):
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
    from bench.store import CellsUnreachable

    for run_dir in run_dirs:
        require_run(run_dir)
    try:
        yield
    except CellsUnreachable as error:
        raise click.BadParameter(str(error), param_hint="RUN") from None


def require_run(run_dir: Path) -> None:
    if not (run_dir / "manifest.json").is_file():
        raise click.BadParameter(f"{run_dir} has no manifest.json: not a bench run folder", param_hint="RUN")
