"""Results on disk, no server: immutable content-addressed cell files and per-run tables.

    ROOT/cells/ab/abcdef....json   one finished cell: record, learning curve, provenance, checksum
    ROOT/runs/NAME/                manifest.json, results.csv, results.parquet, report.html, report.md,
                                   plots/

Every file is written to a temporary file in its own folder, fsynced, then renamed over the target, so
a reader sees the old file or the new one, never half of one. Cells are shared between runs: a cell
that exists is never computed again.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from bench import settings
from bench.schema import COLUMNS, NESTED, OPTIONAL_INTEGERS, csv_text

if TYPE_CHECKING:  # pandas is imported where a table is built: writing a file must not wait for it
    import pandas as pd

SCHEMA = 1
_UMASK = os.umask(0o022)  # read once (os.umask can only be read by setting it), then put back
os.umask(_UMASK)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared like any file
        with os.fdopen(handle, "wb") as file:
            _write_all(file, data)
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Crash tests (tests/test_faults.py) set BENCH_CRASH_AT_WRITE=N: the N-th atomic write of the process then
# dies by SIGKILL with half of its bytes written, as an OOM kill or a power cut would leave it.
_CRASH_AT_WRITE = int(os.environ.get("BENCH_CRASH_AT_WRITE") or 0)
_writes = itertools.count(1)


def _write_all(file: Any, data: bytes) -> None:
    half = len(data) // 2
    file.write(data[:half])
    if _CRASH_AT_WRITE and next(_writes) == _CRASH_AT_WRITE:
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    file.write(data[half:])
    file.flush()


def canonical_json(data: Any) -> bytes:
    """Sorted, compact JSON: the bytes a checksum is taken over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


class Store:
    """The results root: cells shared by all runs, and one folder per run."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def of_run(cls, run_dir: Path) -> "Store":
        """The store a run folder belongs to (ROOT/runs/NAME -> ROOT)."""
        return cls(Path(run_dir).resolve().parent.parent)

    def cell_path(self, key: str) -> Path:
        return self.root / "cells" / key[:2] / f"{key}.json"

    def run_dir(self, name: str) -> Path:
        return self.root / "runs" / name

    def save_cell(self, record: dict[str, Any]) -> Path:
        """Store one finished cell atomically, with a checksum of its content."""
        body = {"schema": SCHEMA, "record": record}
        body["sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
        path = self.cell_path(record["key"])
        atomic_write(path, json.dumps(body, indent=1, sort_keys=True).encode())
        return path

    def load_cell(self, key: str) -> dict[str, Any] | None:
        """The stored record of `key`; None if absent. A corrupt file is set aside and reported."""
        path = self.cell_path(key)
        try:
            body = json.loads(path.read_bytes())
            checksum = body.pop("sha256")
            if hashlib.sha256(canonical_json(body)).hexdigest() != checksum or body["schema"] != SCHEMA:
                raise ValueError("checksum or schema mismatch")
            return body["record"]
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            os.replace(path, aside)
            print(f"warning: corrupt cell file {path} ({error}); moved to {aside.name}, will recompute",
                  file=sys.stderr)
            return None

    def load_cells(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The stored records among `keys`, in that order."""
        return [record for record in map(self.load_cell, keys) if record is not None]


def cells_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per cell as stored, without the nested curve and provenance; the derived columns (verdicts)
    are left empty: the analysis stage (bench.analysis.results_frame) fills them."""
    import pandas as pd

    if not records:
        return pd.DataFrame(columns=COLUMNS)
    rows = [{k: v for k, v in record.items() if k not in NESTED} for record in records]
    frame = pd.DataFrame(rows)
    for column in COLUMNS:  # cells stored before a column existed still give the full table
        if column not in frame:
            frame[column] = None
    for column, default in settings.column_defaults().items():  # a setting added later: its default then
        frame[column] = frame[column].where(frame[column].notna(), default)
    if "task_params" in frame:
        frame["task_params"] = frame["task_params"].map(lambda p: json.dumps(p, sort_keys=True))
    frame = frame[[c for c in COLUMNS if c in frame] + [c for c in frame if c not in COLUMNS]]
    for column in OPTIONAL_INTEGERS:
        if column in frame:
            frame[column] = frame[column].astype("Int64")  # missing stays missing, not a float NaN
    if "error" in frame:
        frame["error"] = frame["error"].map(lambda e: e.splitlines()[0] if isinstance(e, str) else e)
    return frame


def write_tables(run_dir: Path, frame: pd.DataFrame) -> None:
    """results.csv (floats rounded, see bench.schema) and results.parquet (full precision), each written
    atomically."""
    atomic_write(run_dir / "results.csv", csv_text(frame).encode())
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write(run_dir / "results.parquet", buffer.getvalue())


class DamagedRun(ValueError):
    """A run folder whose manifest.json cannot be read as a manifest; the message says how to repair it."""


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """A run folder's manifest.json (FileNotFoundError when there is none; DamagedRun when it is not a
    readable manifest: truncated, not JSON, or without its cell list)."""
    path = Path(run_dir) / "manifest.json"
    text = path.read_text(errors="replace")
    try:
        manifest = json.loads(text)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("cells"), list):
            raise ValueError("no list of cells")
    except ValueError as error:
        name = Path(run_dir).name
        raise DamagedRun(f"run {name}: {path} is damaged ({str(error).splitlines()[0][:80]}); re-run the command "
                         f"that made the run (its stored cells are reused, only missing ones are computed), or "
                         f"remove the run with `bench rm {name}`") from None
    return manifest


class CellsUnreachable(ValueError):
    """A run folder whose finished cells are not where it can find them (copied out of its results root)."""


def cell_stores(run_dir: Path) -> list[Store]:
    """Where a run folder's cells may be: the results root it lives in (ROOT/runs/NAME), then the folder's
    own cells/ (where `bench export` packs them, so an unpacked archive is a run folder like any other)."""
    return [Store.of_run(run_dir), Store(Path(run_dir).resolve())]


def locate_cells(run_dir: Path, keys: Iterable[str]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """key -> (cell file, record) for each of `keys` stored in one of the run's cell stores."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for store in cell_stores(run_dir):
        for key in keys:
            if key not in found and store.cell_path(key).is_file() and (record := store.load_cell(key)):
                found[key] = (store.cell_path(key), record)
    return found


def _set_aside(run_dir: Path, keys: list[str]) -> int:
    """How many of `keys` have a damaged cell file set aside (`KEY.json.corrupt-TIME`) in the run's stores."""
    return sum(any(next(store.cell_path(key).parent.glob(f"{key}.json.corrupt-*"), None) is not None
                   for store in cell_stores(run_dir)) for key in keys)


def run_records(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run's manifest and its stored cells in manifest order. Raises CellsUnreachable when fewer are
    found than the run had finished when its report was last written, so that a report or comparison
    never silently stands on fewer cells than the run had (a copied folder would otherwise read as empty)."""
    manifest, found = _reachable_cells(run_dir)
    return manifest, [found[key][1] for key in manifest["cells"] if key in found]


def _reachable_cells(run_dir: Path) -> tuple[dict[str, Any], dict[str, tuple[Path, dict[str, Any]]]]:
    """The manifest and locate_cells' answer, or CellsUnreachable (see run_records)."""
    manifest = read_manifest(run_dir)
    found = locate_cells(run_dir, manifest["cells"])
    finished = int(manifest.get("finished", 0))
    if len(found) < finished:
        damaged = _set_aside(run_dir, [key for key in manifest["cells"] if key not in found])
        if damaged:
            command = " ".join(manifest.get("argv") or ["the command that made the run"])
            raise CellsUnreachable(f"run {Path(run_dir).name}: {damaged} of its {finished} finished cells were damaged "
                                   f"and set aside (*.corrupt-*); re-run `{command}` to recompute only those cells")
        looked = " and ".join(str(store.root / "cells") for store in cell_stores(run_dir))
        raise CellsUnreachable(f"run {Path(run_dir).name}: {len(found)} of its {finished} finished cells are "
                               f"reachable (looked in {looked}); report it from its results folder, or move it "
                               "with `bench export RUN --archive FILE.tar.gz`, which packs its cells")
    return manifest, found


def pack_run(run_dir: Path, archive: Path) -> int:
    """Write a .tar.gz of the run folder with its cells inside it (NAME/cells/ab/KEY.json), atomically;
    unpacked anywhere it is a run folder `bench report` and `bench compare` read. Returns the cells packed.
    Raises CellsUnreachable, writing nothing, when the run's finished cells are not all reachable."""
    import tarfile

    run_dir = Path(run_dir).resolve()
    _, cells = _reachable_cells(run_dir)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(run_dir.rglob("*")):
            relative = path.relative_to(run_dir)
            if path.is_file() and relative.parts[0] != "cells" and not path.name.endswith(PRIVATE_SUFFIXES):
                tar.add(path, arcname=f"{run_dir.name}/{relative}", recursive=False)
        for key, (path, _) in cells.items():
            tar.add(path, arcname=f"{run_dir.name}/cells/{key[:2]}/{key}.json", recursive=False)
    atomic_write(Path(archive), buffer.getvalue())
    return len(cells)


# a run folder's files that belong to this machine's processes, not to the run: never packed
PRIVATE_SUFFIXES = (".tmp", ".lock", ".drawing.log")


def write_json(path: Path, data: Any) -> None:
    """Pretty JSON, written atomically."""
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True, default=str).encode())
