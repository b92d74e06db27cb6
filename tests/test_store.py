import json
import pandas as pd

from bench.store import Store, atomic_write, results_frame


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
    frame = results_frame([
        _record("a", loss_ratio=0.95, accuracy=0.13, chance_accuracy=0.125),  # both at chance
        _record("b", loss_ratio=0.5, accuracy=0.13, chance_accuracy=0.125),  # the loss learned something
        _record("c", loss_ratio=None, accuracy=None, chance_accuracy=0.125),  # never evaluated
        _record("d", loss_ratio=0.95, accuracy=0.25, chance_accuracy=0.125),  # twice chance: not at chance
        _record("e", loss_ratio=0.99, accuracy=None, chance_accuracy=0.125),  # diverged after an eval
    ])
    assert frame["at_chance"].tolist() == [True, False, False, False, True]


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
    from bench.store import COLUMNS, results_frame, write_tables
    from bench.sweep import Cell
    from bench.train import failed_record

    assert list(results_frame([failed_record(Cell("adding", 5, "rnn", 0), "x")]).columns) == COLUMNS
    write_tables(tmp_path, results_frame([]))
    assert list(pd.read_csv(tmp_path / "results.csv").columns) == COLUMNS
    assert len(pd.read_parquet(tmp_path / "results.parquet")) == 0
