import json

import numpy as np
import pandas as pd

from bench.store import Store, atomic_write
from bench.analysis import results_frame


def _record(key="abc123", **fields):
    return {"key": key, "status": "solved", "accuracy": 0.5, "task_params": {"n": 1}, "curve": [{"step": 1}],
            "provenance": {"host": "h"}, "steps_to_solve": None, "error": None, **fields}


def test_save_and_load_round_trip(tmp_path):
    store = Store(tmp_path)
    path = store.save_cell(_record())
    assert path == tmp_path / "cells" / "ab" / "abc123.json"
    assert store.load_cell("abc123") == _record()
    assert store.load_cell("missing") is None
    assert [p.name for p in path.parent.iterdir()] == ["abc123.json"]  # no temporary left behind


def test_corrupt_or_truncated_cell_is_set_aside_not_read(tmp_path, capsys):
    store = Store(tmp_path)
    path = store.save_cell(_record())
    body = json.loads(path.read_text())
    body["record"]["accuracy"] = 0.99  # edited without a new checksum
    path.write_text(json.dumps(body))
    assert store.load_cell("abc123") is None
    assert "corrupt cell file" in capsys.readouterr().err
    assert not path.exists() and len(list(path.parent.glob("abc123.json.corrupt-*"))) == 1
    store.save_cell(_record())
    path.write_text(path.read_text()[:40])  # truncated
    assert store.load_cell("abc123") is None


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "deep" / "file.txt"
    atomic_write(target, b"first")
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second" and len(list(target.parent.iterdir())) == 1


def test_results_frame_is_flat():
    frame = results_frame([_record(), _record("def", status="failed", error="Boom: bad\ntraceback...")])
    assert "curve" not in frame and "provenance" not in frame
    assert frame.loc[1, "error"] == "Boom: bad" and frame.loc[0, "task_params"] == '{"n": 1}'
    assert str(frame["steps_to_solve"].dtype) == "Int64"


def test_at_chance_is_derived_from_loss_and_accuracy_when_tables_are_built():
    chance = dict(chance_accuracy=0.125, chance_loss=2.0, short_memory_accuracy=0.125, short_memory_loss=2.0,
                  accuracy_se=0.01, loss_se=0.01)
    frame = results_frame([
        _record("a", loss=1.99, loss_ratio=0.995, accuracy=0.13, **chance),  # both within their noise of chance
        _record("b", loss=1.0, loss_ratio=0.5, accuracy=0.13, **chance),  # the loss learned something
        _record("c", loss=None, loss_ratio=None, accuracy=None, **chance),  # never evaluated
        _record("d", loss=1.99, loss_ratio=0.995, accuracy=0.25, **chance),  # twice chance: not at chance
        _record("e", loss=1.99, loss_ratio=0.995, accuracy=None, **chance),  # diverged after an eval
    ])
    assert frame["at_chance"].tolist() == [True, False, True, False, True]


def test_written_files_follow_the_umask_not_mkstemps_private_mode(tmp_path):
    from bench.store import atomic_write

    atomic_write(tmp_path / "f.json", b"{}")
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def _current_umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_table_columns_match_what_a_cell_records_and_an_empty_table_keeps_its_header(tmp_path):
    from bench.schema import COLUMNS
    from bench.store import write_tables
    from bench.analysis import results_frame
    from bench.sweep import Cell
    from bench.train import failed_record

    assert list(results_frame([failed_record(Cell("adding", 5, "rnn", 0), "x")]).columns) == COLUMNS
    write_tables(tmp_path, results_frame([]))
    assert list(pd.read_csv(tmp_path / "results.csv").columns) == COLUMNS
    assert len(pd.read_parquet(tmp_path / "results.parquet")) == 0


def test_results_readme_column_dictionary_is_the_schemas():
    from pathlib import Path

    from bench.schema import column_dictionary

    readme = (Path(__file__).parent.parent / "results" / "README.md").read_text()
    block = readme.split("<!-- columns:", 1)[1].split("-->\n", 1)[1].split("<!-- columns end -->", 1)[0]
    assert block == column_dictionary(), "regenerate the block with `python -m bench.schema`"


def test_csv_rounds_float32_noise_and_parquet_keeps_full_precision(tmp_path):
    from bench.schema import COLUMN_SPECS, COLUMNS, GROUPS
    from bench.store import write_tables
    from bench.analysis import results_frame
    from bench.sweep import Cell
    from bench.train import failed_record

    record = {**failed_record(Cell("adding", 5, "rnn", 0), "x"), "accuracy": float(np.float32(0.051)),
              "loss": 1.2345678e-05, "loss_ratio": 0.5}
    write_tables(tmp_path, results_frame([record]))
    text = (tmp_path / "results.csv").read_text()
    assert "0.051," in text and "0.0509999" not in text and "1.23457e-05" in text
    assert pd.read_parquet(tmp_path / "results.parquet")["accuracy"][0] == float(np.float32(0.051))
    # identity, settings, outcome, metrics, cost, provenance: each group's columns together, in that order
    groups = [spec.group for spec in COLUMN_SPECS]
    assert groups == sorted(groups, key=GROUPS.index) and COLUMNS[:2] == ["key", "task"]
