"""Runs as objects: `bench ls`, `bench rm` and `bench gc` over one results root.

A run is a folder ROOT/runs/NAME with a manifest; its cells live, shared with other runs, under
ROOT/cells. Removing a run leaves its cells (another run may use them); `gc` removes the cells no run
references.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.checkpoint import SUFFIX as CHECKPOINT_SUFFIX
from bench.claims import Claims, lock_path
from bench.store import DamagedRun, Store, read_manifest

GC_GRACE_SECONDS = 600  # a cell stored this recently may belong to a horizon search between two rounds


@dataclass
class RunInfo:
    """One line of `bench ls`."""

    name: str
    created: str  # ISO 8601, UTC
    tasks: list[str]
    models: list[str]
    lengths: list[int]
    stored: int  # cells of the run that are stored (any status, failed included)
    total: int
    status: str  # complete | incomplete (interrupted, or still running) | damaged (its manifest cannot be read)
    settings: list[str] = field(default_factory=list)  # what sets it apart: `lr 0.003`, `seeds 3`, ...

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_runs(store: Store) -> list[RunInfo]:
    """Every run folder of `store` with a readable manifest, oldest first."""
    runs = []
    for manifest_path in sorted((store.root / "runs").glob("*/manifest.json")):
        if manifest_path.parent.name.startswith("."):  # a removal cut short (see remove_run)
            continue
        try:
            manifest = read_manifest(manifest_path.parent)
        except DamagedRun:
            runs.append(RunInfo(manifest_path.parent.name, "?", [], [], [], 0, 0, "damaged"))
            continue
        except OSError:
            continue  # a manifest being replaced right now (atomic writes make that rare)
        runs.append(_info(store, manifest_path.parent.name, manifest))
    return sorted(runs, key=lambda run: (run.created, run.name))


def _info(store: Store, name: str, manifest: dict[str, Any]) -> RunInfo:
    sweep, keys = manifest.get("sweep", {}), manifest.get("cells", [])
    stored = sum(store.cell_path(key).is_file() for key in keys)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(manifest.get("created", 0)))
    return RunInfo(name, created, list(sweep.get("tasks", [])), list(sweep.get("models", [])),
                   list(sweep.get("lengths", [])), stored, len(keys), "complete" if stored == len(keys) else "incomplete",
                   distinguishing_settings(sweep))


SWEPT = {"hiddens": "hidden", "lrs": "lr", "batch_sizes": "batch_size"}  # a swept setting, by its sweep axis


def distinguishing_settings(sweep: dict[str, Any]) -> list[str]:
    """What sets a run's sweep apart from the defaults: each declared setting (bench/settings.py) away from
    its default, the swept ones with all their values, the parameter target and the number of seeds."""
    from bench import settings

    swept = {SWEPT[axis]: values for axis, values in sweep.items() if axis in SWEPT and values}
    texts = []
    for setting in settings.ALL:
        source = sweep.get("model_config" if setting.owner == "model" else "train", {})
        if setting.name in swept:
            texts.append(f"{setting.name} {','.join(map(_text, swept[setting.name]))}")
        elif setting.name in source and source[setting.name] != _plain_default(setting):
            texts.append(f"{setting.name} {_text(setting.as_column(source[setting.name]))}")
    if sweep.get("params"):
        texts.append(f"params {sweep['params']}")
    if len(sweep.get("seeds", [0])) != 1:
        texts.append(f"seeds {len(sweep['seeds'])}")
    return texts


def _plain_default(setting: Any) -> Any:
    return list(setting.default) if setting.kind == "lengths" else setting.default  # as the manifest's JSON holds it


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def remove_run(store: Store, name: str) -> None:
    """Delete run folder `name` (its cells stay). It is first renamed to a hidden `.NAME.removing-PID`,
    which `bench ls` skips, so no listing ever shows half of it; gc still counts its cells as referenced
    until it is gone. Raises LookupError when there is no such run."""
    run_dir = store.run_dir(name)
    if not (run_dir / "manifest.json").is_file():
        raise LookupError(f"no run {name!r} in {store.root / 'runs'}")
    doomed = run_dir.with_name(f".{name}.removing-{os.getpid()}")
    os.replace(run_dir, doomed)
    shutil.rmtree(doomed)


def referenced_cells(store: Store) -> set[str]:
    """The cell keys some run folder's manifest names."""
    keys: set[str] = set()
    for manifest_path in (store.root / "runs").glob("*/manifest.json"):
        keys.update(read_manifest(manifest_path.parent).get("cells", []))
    return keys


def unreferenced_cells(store: Store, now: float | None = None) -> list[Path]:
    """Stored cell files no run references, older than GC_GRACE_SECONDS; sorted."""
    keep, now = referenced_cells(store), now or time.time()
    return sorted(path for path in (store.root / "cells").glob("*/*.json")
                  if path.stem not in keep and now - path.stat().st_mtime >= GC_GRACE_SECONDS)


def busy_cell(store: Store) -> str | None:
    """The key of a cell some run is computing now (its claim is held), or None."""
    with Claims(store) as claims:
        for lock in (store.root / "cells").glob("*/.*.lock"):
            key = lock.name[1:-len(".lock")]
            if not claims.claim(key):
                return key
    return None


def orphan_checkpoints(store: Store, now: float | None = None) -> list[Path]:
    """Checkpoints nothing will resume, older than GC_GRACE_SECONDS: their cell is stored, or no run
    references it. A checkpoint of an unfinished cell of a run is kept: re-running the run resumes it."""
    keep, now = referenced_cells(store), now or time.time()
    found = []
    for path in (store.root / "cells").glob(f"*/.*{CHECKPOINT_SUFFIX}"):
        key = path.name[1:-len(CHECKPOINT_SUFFIX)]
        if (store.cell_path(key).is_file() or key not in keep) and now - path.stat().st_mtime >= GC_GRACE_SECONDS:
            found.append(path)
    return sorted(found)


def collect_garbage(store: Store) -> list[Path]:
    """Delete the unreferenced cells (with their lock files) and the orphan checkpoints; returns what was
    deleted."""
    doomed = unreferenced_cells(store)
    for path in doomed:
        lock_path(store, path.stem).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    orphans = orphan_checkpoints(store)
    for path in orphans:
        path.unlink(missing_ok=True)
    _tidy(store)
    return doomed + orphans


def _tidy(store: Store) -> None:
    """Remove the claim files left beside cells (gc runs only while no run is in progress and no claim is
    held) and the cell folders left empty."""
    for lock in (store.root / "cells").glob("*/.*.lock"):
        lock.unlink(missing_ok=True)
    for folder in (store.root / "cells").glob("*/"):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
