"""`bench export RUN --to tensorboard|mlflow DEST`: what is written is read back with the tracker's own
reader and carries the run's numbers: one tracker run per cell, its curve, settings and final numbers."""

import pytest

from conftest import files_under
from test_runs import finished_run  # noqa: F401  (the module fixture: one finished 2-cell run)


def _records(root):
    from bench.store import run_records

    return run_records(root / "runs" / "base")[1]


def test_tensorboard_export_reads_back_scalars_hparams_and_the_grid(bench_cli, finished_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from bench.reporting.trackers import cell_label

    result = bench_cli("export", str(finished_run / "runs" / "base"), str(tmp_path / "tb"), "--to", "tensorboard")
    assert result.code == 0, result.stderr
    top = EventAccumulator(str(tmp_path / "tb" / "base")).Reload()
    grid = top.Tensors("grid/adding/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| model |" in grid and "gru" in grid and "rnn" in grid
    records = _records(finished_run)
    assert len(records) == 2
    for record in records:
        events = EventAccumulator(str(tmp_path / "tb" / "base" / cell_label(record))).Reload()
        curve = [(event.step, event.value) for event in events.Scalars("valid/accuracy")]
        assert curve == [(p["step"], pytest.approx(p["eval_accuracy"], rel=1e-6)) for p in record["curve"]]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(
            events.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info.hparams
        assert hparams["model"].string_value == record["model"] and hparams["length"].number_value == 10
        final = events.Scalars("final/accuracy")[0].value
        assert final == pytest.approx(record["accuracy"], rel=1e-6)


def test_mlflow_export_reads_back_one_run_per_cell_under_a_parent(bench_cli, finished_run, tmp_path):
    from mlflow.tracking import MlflowClient

    result = bench_cli("export", str(finished_run / "runs" / "base"), str(tmp_path / "mlruns"), "--to", "mlflow")
    assert result.code == 0, result.stderr
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("base")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(run for run in runs if "mlflow.parentRunId" not in run.data.tags)
    cells = {run.data.tags["bench.key"]: run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    records = _records(finished_run)
    assert set(cells) == {record["key"] for record in records}
    for record in records:
        run = cells[record["key"]]
        assert run.data.params["model"] == record["model"] and float(run.data.params["lr"]) == record["lr"]
        assert run.data.metrics["final_accuracy"] == pytest.approx(record["accuracy"])
        history = client.get_metric_history(run.info.run_id, "valid_accuracy")
        assert [(m.step, m.value) for m in history] == [(p["step"], pytest.approx(p["eval_accuracy"]))
                                                         for p in record["curve"]]
    grid = client.download_artifacts(parent.info.run_id, "grid.md", str(tmp_path))
    assert "| model |" in open(grid).read()


def test_export_bad_input_is_one_line_exit_2_and_writes_nothing(bench_cli, finished_run, tmp_path, monkeypatch):
    run = str(finished_run / "runs" / "base")
    (tmp_path / "tb" / "base").mkdir(parents=True)  # an earlier export's folder: never overwritten
    before = set(files_under(tmp_path))
    for args in ([run], [run, str(tmp_path / "x"), "--archive", str(tmp_path / "a.tar.gz")],
                 [run, "--to", "tensorboard"], [run, str(tmp_path / "x"), "--to", "wandb"],
                 [run, str(tmp_path / "tb"), "--to", "tensorboard"],
                 [run, str(tmp_path / "x"), "--to", "mlflow", "--archive", str(tmp_path / "a.tar.gz")]):
        result = bench_cli("export", *args)
        assert result.code == 2 and result.stderr.count("\n") == 1, args
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *rest: None)  # the extra not installed
    missing = bench_cli("export", run, str(tmp_path / "y"), "--to", "mlflow")
    assert missing.code == 2 and 'pip install -e ".[mlflow]"' in missing.stderr
    assert set(files_under(tmp_path)) == before and not (tmp_path / "x").exists()
