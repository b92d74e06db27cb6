"""Nothing lost, nothing half-written: SIGKILL at 20 moments, two runs on one results folder, a report
taken while a run writes, and a disk that fills up mid-run."""

import csv
import errno
import hashlib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.runner import rebuild_report
from bench.store import Store, canonical_json
from conftest import TINY_RUN

SWEEP = ["--task", "delayed-recall", "--models", "rnn", "--steps", "400", "--eval-every", "100",
         "--eval-size", "64", "--hidden", "8", "--batch-size", "8", "--jobs", "1", "--no-progress"]
METRICS = ["key", "status", "accuracy", "best_valid_accuracy", "loss", "steps", "steps_to_solve", "params"]


def _command(root, lengths, name):
    return [sys.executable, "-m", "bench", "run", *SWEEP, "--lengths", lengths, "--out", str(root), "--name", name]


def _cell_files(root):
    return sorted(p for p in (root / "cells").rglob("*.json") if not p.name.startswith("."))


def _whole(path: Path, data: bytes) -> bool:
    """Is this the complete file a writer meant, judged from its bytes alone?"""
    if path.suffix == ".json":
        body = json.loads(data)
        if path.parent.parent.name == "cells":
            checksum = body.pop("sha256")
            return hashlib.sha256(canonical_json(body)).hexdigest() == checksum
        return True
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(data.decode())))
        return data.endswith(b"\n") and all(len(row) == len(rows[0]) for row in rows)
    if path.suffix == ".parquet":
        pd.read_parquet(io.BytesIO(data))
        return True
    endings = {".html": b"</html>\n", ".svg": b"</svg>\n", ".png": b"IEND\xaeB`\x82", ".md": b"\n"}
    return data.endswith(endings.get(path.suffix, b""))


class Reader(threading.Thread):
    """Reads every visible result file, over and over, and keeps any it found partial."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.stop, self.partial, self.reads = root, threading.Event(), [], 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                paths = list(self.root.rglob("*"))
            except FileNotFoundError:  # a folder vanished mid-walk (a writer's temporary one): walk again
                continue
            for path in paths:
                if path.name.startswith(".") or path.suffix in (".tmp", ".lock") or not path.is_file():
                    continue
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
                try:
                    whole = _whole(path, data)
                except Exception as error:
                    whole = False
                    path = f"{path} ({type(error).__name__})"
                self.reads += 1
                if not whole:
                    self.partial.append(str(path))
            time.sleep(0.01)


@pytest.mark.slow
def test_sigkill_at_20_moments_then_resume_equals_an_uninterrupted_run(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    lengths = "5,6,7,8,9,10"
    subprocess.run(_command(clean, lengths, "r"), check=True, capture_output=True)
    pick = random.Random(20)
    reader = Reader(killed)
    reader.start()
    first_seen: dict[str, str] = {}  # cell file -> hash of the bytes it had when first seen
    kills, attempts = 0, 0
    while kills < 20 and attempts < 60:
        attempts += 1
        # even attempts die at a random moment; odd ones in the middle of their N-th atomic write
        # (the first is the manifest, then cells, then tables, plots and reports)
        crash_at = pick.randint(1, 16) if attempts % 2 else 0
        environment = {**os.environ, "BENCH_CRASH_AT_WRITE": str(crash_at)}
        started = time.time()
        process = subprocess.Popen(_command(killed, lengths, "r"), env=environment,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not crash_at:  # from the moment the run has begun (its manifest is written), not from startup
            _wait_for_manifest(killed / "runs/r/manifest.json", started, process)
            try:
                process.wait(timeout=pick.uniform(0.0, 4.0))
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()
        kills += process.returncode == -signal.SIGKILL
        for path in _cell_files(killed):  # a stored cell is never rewritten by a later attempt
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert first_seen.setdefault(path.name, digest) == digest, f"{path.name} was computed again"
    final = subprocess.run(_command(killed, lengths, "r"), capture_output=True, text=True)
    reader.stop.set()
    reader.join()
    assert kills == 20, f"only {kills} kills in {attempts} attempts"
    assert final.returncode == 0, final.stderr
    assert reader.partial == [] and reader.reads > 100
    tables = [pd.read_csv(root / "runs/r/results.csv")[METRICS] for root in (killed, clean)]
    pd.testing.assert_frame_equal(*tables)
    assert not list((killed / "cells").rglob("*.tmp"))  # writes cut short were cleaned up under the claim
    assert "report.html" in os.listdir(killed / "runs/r")


def _wait_for_manifest(path: Path, since: float, process: subprocess.Popen) -> None:
    while process.poll() is None and not (path.exists() and path.stat().st_mtime >= since):
        time.sleep(0.01)


def _computed(stdout: str) -> int:
    return int(re.search(r"\((\d+) computed", stdout).group(1))


@pytest.mark.slow
def test_two_runs_on_one_results_folder_compute_each_shared_cell_once(tmp_path):
    runs = [subprocess.Popen(_command(tmp_path, lengths, name), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for lengths, name in (("5,6,7,8", "a"), ("6,7,8,9", "b"))]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-500:] for _, err in outputs]
    assert sum(_computed(out) for out, _ in outputs) == 5  # lengths 5..9: five distinct cells in all
    stored = _cell_files(tmp_path)
    assert len(stored) == 5 and all(Store(tmp_path).load_cell(p.stem) for p in stored)
    for name in ("a", "b"):
        assert len(pd.read_csv(tmp_path / "runs" / name / "results.csv")) == 4
        assert (tmp_path / "runs" / name / "report.html").read_text().count("<td class='' style=") == 4


@pytest.mark.slow
def test_report_taken_while_a_run_writes_is_a_consistent_snapshot(tmp_path):
    run = subprocess.Popen(_command(tmp_path, "5,6,7,8,9,10", "live"), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    run_dir, snapshots = tmp_path / "runs" / "live", []
    while run.poll() is None:
        if (run_dir / "manifest.json").exists():
            records = rebuild_report(run_dir)
            # the run rewrites the same tables as it goes: whichever writer's table is there, it is
            # whole, and each row is a stored cell with that cell's numbers
            table = pd.read_csv(run_dir / "results.csv")
            assert table["key"].is_unique and (run_dir / "report.html").read_text().endswith("</html>\n")
            for row in table.itertuples():
                assert Store(tmp_path).load_cell(row.key)["accuracy"] == pytest.approx(row.accuracy)
            snapshots.append(len(records))
        time.sleep(0.2)
    assert run.returncode == 0 and len(snapshots) >= 2
    assert snapshots == sorted(snapshots)  # cells only ever get added
    assert len(pd.read_csv(run_dir / "results.csv")) == 6


def test_a_report_whose_run_finishes_under_it_does_not_overwrite_the_newer_tables(tmp_path, monkeypatch):
    """The race behind the test above, made certain: `bench report` reads a run's cells, the run finishes
    and writes its tables, then the report writes. It must not put its older, shorter table back."""
    import bench.runner as runner
    from bench.sweep import ModelConfig, Sweep, TrainConfig

    sweep = Sweep(("adding",), (5, 6, 7), ("rnn",), (0,), ModelConfig(hidden=4),
                  TrainConfig(steps=2, eval_every=1, eval_size=8, batch_size=4))
    store = Store(tmp_path)
    run_dir = runner.run_sweep(sweep, store, "live", progress=False).run_dir
    reads, read_records = [], runner.run_records

    def read_then_the_run_finishes(folder):
        manifest, records = read_records(folder)
        reads.append(len(records))
        if len(reads) == 1:  # the report's first read saw one cell fewer than the run is about to finish with
            records = records[:-1]
            runner.finish_run(store, run_dir, read_records(folder)[0], sweep.expand())
        return manifest, records
    monkeypatch.setattr(runner, "run_records", read_then_the_run_finishes)
    records = rebuild_report(run_dir)
    assert reads == [3, 3] and len(records) == 3  # read again once the run had rewritten its manifest
    assert len(pd.read_csv(run_dir / "results.csv")) == 3


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left on device"),
                                         (errno.EACCES, "Permission denied")])
def test_disk_full_or_unwritable_mid_run_stops_with_one_line_and_keeps_stored_cells(
        bench_cli, tmp_path, monkeypatch, code, words):
    import bench.store

    real, writes = bench.store._write_all, iter(range(10**6))

    def filling_up(file, data):  # the manifest and two cells fit; every write after them fails
        if next(writes) >= 3:
            raise OSError(code, os.strerror(code))
        real(file, data)

    monkeypatch.setattr(bench.store, "_write_all", filling_up)
    args = ["run", "--task", "adding", "--lengths", "5,6,7,8", "--models", "rnn", *TINY_RUN, "--out", tmp_path,
            "--name", "full"]
    result = bench_cli(*args)
    assert result.code == 1 and "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("bench: error:")]
    assert len(error) == 1 and words in error[0] and "re-run to resume" in error[0]
    assert len(_cell_files(tmp_path)) == 2 and all(Store(tmp_path).load_cell(p.stem) for p in _cell_files(tmp_path))
    monkeypatch.setattr(bench.store, "_write_all", real)
    again = bench_cli(*args)
    assert again.code == 0 and "(2 computed, 2 reused" in again.stdout
