"""`bench ls`, `bench rm`, `bench gc`, `bench export`: the commands over a results root's runs as objects
(bench/runs.py, bench/store.py and bench/reporting/trackers.py do the work). Registered on the main group by
bench/cli/__init__.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bench.cli.common import fitted, reachable, writable_file_option

out_option = click.option("--out", default="results", show_default=True, help="Results root.")


def existing_root(value: str) -> Path:
    path = Path(value).expanduser().absolute()
    if not path.is_dir():
        raise click.BadParameter(f"{path} is not a folder", param_hint="'--out'")
    return path


@click.command("ls")
@out_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, as a list, on stdout.")
def list_command(out: str, as_json: bool) -> None:
    """List the runs of a results root: name, created, tasks, models, lengths, cells stored/total, status, and
    the settings that set each run apart (those away from their defaults, swept ones, seeds)."""
    from bench.runs import list_runs
    from bench.store import Store

    root = existing_root(out)
    runs = list_runs(Store(root))
    if as_json:
        click.echo(json.dumps([run.to_dict() for run in runs], indent=1))
        return
    if not runs:
        click.echo(f"no runs in {root / 'runs'}", err=True)
        return
    rows = [(run.name, run.created, ",".join(run.tasks), ",".join(run.models), ",".join(map(str, run.lengths)),
             f"{run.stored}/{run.total}", run.status, ", ".join(run.settings) or "defaults") for run in runs]
    header = ("name", "created", "tasks", "models", "lengths", "cells", "status", "settings")
    widths = [max(len(text) for text in column) for column in zip(header, *rows)]
    lines = ["  ".join(text.ljust(width) for text, width in zip(texts[:-1], widths)) + "  " + texts[-1]
             for texts in (header, *rows)]  # columns as wide as their entries; the settings last, unpadded
    click.echo(fitted("\n".join(lines)))


@click.command("rm")
@click.argument("names", nargs=-1, required=True)
@out_option
def remove_command(names: tuple[str, ...], out: str) -> None:
    """Remove runs by name (their folders; the cells stay stored until `bench gc`)."""
    from bench.runs import remove_run
    from bench.store import Store

    store = Store(existing_root(out))
    missing = [name for name in names if "/" in name or not (store.run_dir(name) / "manifest.json").is_file()]
    if missing:  # checked for all before any is removed
        raise click.BadParameter(f"no run {missing[0]!r} in {store.root / 'runs'} (`bench ls` lists them)",
                                 param_hint="NAMES")
    for name in names:
        remove_run(store, name)
        click.echo(f"removed run {name}")


@click.command("gc")
@out_option
@click.option("--dry-run", is_flag=True, help="List the cells that would be deleted; delete nothing.")
def gc_command(out: str, dry_run: bool) -> None:
    """Delete stored cells that no run references (older than 10 minutes: a horizon search between
    rounds may not have named its newest cells yet). Refused while a run is in progress in the root; a
    run that starts meanwhile waits for gc to finish."""
    from bench.claims import no_run_in_progress
    from bench.runs import busy_cell, collect_garbage, unreferenced_cells
    from bench.store import Store

    from bench.store import DamagedRun

    store = Store(existing_root(out))
    try:
        if dry_run:  # what would go: each cell's key and what it is
            for path in unreferenced_cells(store):
                record = store.load_cell(path.stem) or {}
                what = f"{record.get('task', '?')} L={record.get('length', '?')} {record.get('model', '?')} seed={record.get('seed', '?')}"
                click.echo(f"{path.stem}  {what}")
            return
        with no_run_in_progress(store) as idle:
            if not idle or (key := busy_cell(store)) is not None:
                what = "a run is in progress" if not idle else f"a run is computing cell {key}"
                raise click.BadParameter(f"{what} in {store.root}; run gc when it is done", param_hint="'--out'")
            deleted = collect_garbage(store)
    except DamagedRun as error:  # which cells it references is unknown: deleting any could lose its work
        raise click.BadParameter(f"{error}; gc deletes nothing until then", param_hint="'--out'") from None
    click.echo(f"deleted {len(deleted)} unreferenced cell(s) and orphan checkpoint(s) from {store.root / 'cells'}")




@click.command("export")
@click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dest", metavar="[DEST]", required=False, type=click.Path(file_okay=False, path_type=Path))
@writable_file_option("--archive", default=None,
                      help="Write the run, with its cells, to this .tar.gz: unpacked anywhere, it is a run folder "
                           "that bench report and bench compare read.")
@click.option("--to", "tracker", type=click.Choice(["tensorboard", "mlflow"]), default=None,
              help="Write the run to a tracker in DEST: tensorboard (a log folder: DEST/RUN/, one event folder per "
                   "cell) or mlflow (a local file store, e.g. ./mlruns: one experiment named RUN, one run per cell).")
def export_command(run_dir: Path, dest: Path | None, archive: Path | None, tracker: str | None) -> None:
    """Pack a run with its cells into one archive (--archive), or write it to TensorBoard or MLflow (--to)."""
    if (archive is None) == (tracker is None):
        raise click.UsageError("give exactly one of --archive FILE and --to tensorboard|mlflow DEST")
    if tracker and dest is None:
        raise click.UsageError(f"--to {tracker} needs DEST, the folder to write to")
    if archive and dest is not None:
        raise click.UsageError("DEST is for --to; --archive names its file itself")
    with reachable(run_dir):
        if archive:
            _export_archive(run_dir, archive)
        else:
            _export_tracker(run_dir, tracker, dest)


def _export_archive(run_dir: Path, archive: Path) -> None:
    from bench.store import pack_run

    packed = pack_run(run_dir, archive)
    click.echo(f"{run_dir.name}: {packed} cells packed -> {archive}")


def _export_tracker(run_dir: Path, tracker: str, dest: Path) -> None:
    from bench.reporting import trackers
    from bench.reporting.report import task_grids
    from bench.store import run_records
    from bench.analysis import results_frame

    records = run_records(run_dir)[1]
    grids = task_grids(results_frame(records)) if records else {}
    write = trackers.to_tensorboard if tracker == "tensorboard" else trackers.to_mlflow
    try:
        write(run_dir.name, records, grids, dest)
    except (trackers.TrackerMissing, trackers.TargetExists) as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"{run_dir.name}: {len(records)} cells -> {tracker} in {dest}")


COMMANDS = (export_command, list_command, remove_command, gc_command)
