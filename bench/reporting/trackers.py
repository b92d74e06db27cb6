"""Export a run to the experiment trackers people already use: TensorBoard event files and MLflow.

One tracker run per cell: its settings as hyperparameters, its learning curve as step-indexed scalars,
its final test numbers as metrics; the run's grid (as in report.md) as text. Both are optional extras
(`pip install -e ".[tensorboard]"`, `".[mlflow]"`); a missing one is a one-line error, not a traceback.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

# the settings that tell one cell of a run from another (hyperparameters), and its final numbers
HPARAMS = ("task", "model", "length", "min_span", "seed", "hidden", "layers", "lr", "batch_size", "clip",
           "steps_budget", "eval_every", "stop")
FINAL = ("accuracy", "accuracy_se", "loss", "loss_se", "sequences_correct", "chance_accuracy", "chance_loss",
         "steps", "steps_to_solve", "seconds")
CURVE = {"eval_accuracy": "valid/accuracy", "eval_loss": "valid/loss", "train_loss": "train/loss"}
MLFLOW_BATCH = 1000  # the most metrics one log_batch call takes


class TrackerMissing(RuntimeError):
    """The tracker's package is not installed."""


class TargetExists(RuntimeError):
    """The destination already holds this run."""


def cell_label(record: dict[str, Any]) -> str:
    """`adding-L50-lstm-h128-s0-1a2b3c4d`: readable, and unique in a run (the key tells settings apart)."""
    return (f"{record['task']}-L{record['length']}-{record['model']}-h{record['hidden']}-s{record['seed']}-"
            f"{record['key'][:8]}").replace(":", "_").replace("/", "_")


def hparams(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in HPARAMS if record.get(name) is not None}


def final_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The cell's final numbers that exist (a failed cell has none of the test ones)."""
    return {name: float(record[name]) for name in FINAL if _number(record.get(name))}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def curve_points(record: dict[str, Any]):
    """(tag, value, step) for every finite number of the learning curve."""
    for point in record.get("curve") or []:
        for field, tag in CURVE.items():
            if _number(point.get(field)):
                yield tag, float(point[field]), int(point["step"])


def _require(kind: str, module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise TrackerMissing(f"--to {kind} needs the {module} package: pip install -e \".[{kind}]\"")


def to_tensorboard(run_name: str, records: list[dict[str, Any]], grids: dict[str, str], dest: Path) -> Path:
    """DEST/RUN/ with one event folder per cell (scalars and an HParams entry) and the grids as text at
    the top. Written beside the target and renamed into place, so a cut-short export leaves nothing."""
    _require("tensorboard", "tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    target = dest / run_name
    if target.exists():
        raise TargetExists(f"{target} exists; remove it or export to another folder")

    def write(folder: Path) -> None:
        with SummaryWriter(str(folder)) as writer:
            for task, grid in grids.items():
                writer.add_text(f"grid/{task}", grid)
        for record in records:
            with SummaryWriter(str(folder / cell_label(record))) as writer:
                for tag, value, step in curve_points(record):
                    writer.add_scalar(tag, value, step)
                writer.add_hparams(hparams(record), {f"final/{k}": v for k, v in final_metrics(record).items()},
                                   run_name=".")

    _write_beside(target, write)
    return target


def _write_beside(target: Path, write: Callable[[Path], None]) -> None:
    staging = target.with_name(f".{target.name}.exporting-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write(staging)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def to_mlflow(run_name: str, records: list[dict[str, Any]], grids: dict[str, str], dest: Path) -> str:
    """An MLflow experiment named after the run in the local file store DEST: a parent run holding the
    grids (grid.md) and one nested run per cell. Returns the experiment id."""
    _require("mlflow", "mlflow")
    # MLflow 3 keeps the file store in maintenance mode and asks for this opt-in; MLflow 2 ignores it
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=dest.resolve().as_uri())
    if client.get_experiment_by_name(run_name) is not None:
        raise TargetExists(f"{dest} already has an experiment named {run_name}")
    experiment = client.create_experiment(run_name, tags={"bench.run": run_name})
    try:
        _log_mlflow_runs(client, experiment, run_name, records, grids)
    except BaseException:
        client.delete_experiment(experiment)  # no half-exported experiment left looking complete
        raise
    return experiment


def _log_mlflow_runs(client: Any, experiment: str, run_name: str, records: list[dict[str, Any]],
                     grids: dict[str, str]) -> None:
    import time

    from mlflow.entities import Metric, Param

    parent = client.create_run(experiment, run_name=run_name).info.run_id
    client.log_text(parent, "\n\n".join(f"## {task}\n\n{grid}" for task, grid in grids.items()), "grid.md")
    now = int(time.time() * 1000)
    for record in records:
        tags = {"mlflow.parentRunId": parent, "bench.key": record["key"], "bench.status": str(record["status"])}
        run = client.create_run(experiment, run_name=cell_label(record), tags=tags).info.run_id
        metrics = [Metric(tag.replace("/", "_"), value, now, step) for tag, value, step in curve_points(record)]
        metrics += [Metric(f"final_{name}", value, now, 0) for name, value in final_metrics(record).items()]
        client.log_batch(run, params=[Param(name, str(value)) for name, value in hparams(record).items()])
        for start in range(0, len(metrics), MLFLOW_BATCH):
            client.log_batch(run, metrics=metrics[start:start + MLFLOW_BATCH])
        client.set_terminated(run, status="FAILED" if record["status"] == "failed" else "FINISHED")
    client.set_terminated(parent)
