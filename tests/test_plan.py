"""The plan owns the sweep's rules: one spelling per cell, each setting declared once, conflicts refused
through the command line and the API alike (bench/plan.py, bench/settings.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from bench import models, plan, settings
from bench.plan import PlanError, Request, make_plan


def planned(**fields) -> plan.Plan:
    return make_plan(Request(**{"tasks": ["adding"], "lengths": [8], "models": ["rnn"], **fields}))


@pytest.mark.parametrize("spelling, lengths", [(["adding"], [8, 4]), (["adding:markers=halves"], [4, 8]),
                                               (["adding", "adding:markers=halves"], [4, 8, 4]),
                                               ([" adding:form=arjovsky"], [8, 4])])
def test_every_spelling_of_a_sweep_gives_one_folder_one_task_string_and_one_set_of_keys(spelling, lengths, tmp_path):
    reference = planned(lengths=[4, 8], out=tmp_path)
    other = planned(tasks=spelling, lengths=lengths, out=tmp_path)
    assert other.sweep.tasks == ("adding",) and other.sweep.lengths == (4, 8)
    assert other.name == reference.name
    assert [c.key for c in other.sweep.expand()] == [c.key for c in reference.sweep.expand()]


def test_the_command_line_and_the_api_plan_the_same_run(bench_cli, tmp_path):
    from bench import api

    run_dir = api.run(["adding:markers=halves"], [6, 6], ["rnn"], out=tmp_path, steps=1, eval_every=1, eval_size=4,
                      hidden=4)
    result = bench_cli("run", "--task", "adding", "--lengths", "6", "--models", "rnn", "--steps", "1", "--eval-every",
                       "1", "--eval-size", "4", "--hidden", "4", "--jobs", "1", "--device", "cpu", "--no-progress",
                       "--out", tmp_path)
    assert result.code == 0 and "(0 computed, 1 reused, 0 failed)" in result.stdout
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run_dir.name]
    assert pd.read_csv(run_dir / "results.csv")["task"].tolist() == ["adding"]


def test_model_strings_are_canonical():
    assert models.canonical("lstm-1997:input_bias=-3.0/-6") == "lstm-1997:input_bias=-3/-6"
    assert models.canonical("lstm:forget_bias=1.0") == "lstm:forget_bias=1"
    assert planned(models=["lstm:forget_bias=1", "lstm:forget_bias=1.00", "rnn"]).sweep.models == (
        "lstm:forget_bias=1", "rnn")


# --- every setting declared once ------------------------------------------------------------------------

def test_train_config_and_model_config_fields_are_the_declared_settings():
    import dataclasses

    from bench.sweep import ModelConfig, TrainConfig

    assert [f.name for f in dataclasses.fields(TrainConfig)] == [s.name for s in settings.TRAIN]
    assert [f.name for f in dataclasses.fields(ModelConfig)] == [s.name for s in settings.MODEL]
    assert TrainConfig() == TrainConfig(**settings.train_defaults())


@pytest.mark.parametrize("setting", settings.ALL, ids=lambda s: s.name)
def test_each_declared_setting_is_an_option_a_config_key_an_env_var_a_column_and_compared(setting, monkeypatch,
                                                                                        tmp_path):
    from bench.cli import cli
    from bench.cli.options import request_from_options
    from bench.reporting.compare import SETTINGS
    from bench.schema import COLUMNS

    run = cli.commands["run"]
    option = next(p for p in run.params if p.name == setting.name)
    assert setting.flag.split("/")[0] in option.opts and option.help == setting.help
    value = _other_value(setting)
    text = ",".join(map(str, value)) if isinstance(value, tuple) else value
    config = tmp_path / "sweep.toml"
    config.write_text(f"{setting.flag.split('/')[0][2:]} = {_toml(text)}\n")
    from_config = run.make_context("run", ["--config", str(config), "--task", "adding", "--lengths", "20"],
                                   obj={"argv": []})
    assert request_from_options(from_config, from_config.params).settings[setting.name] == value
    monkeypatch.setenv(f"BENCH_RUN_{setting.name.upper()}", str(text).lower() if isinstance(text, bool) else str(text))
    from_env = run.make_context("run", ["--task", "adding", "--lengths", "20"], obj={"argv": []},
                                auto_envvar_prefix="BENCH_RUN")
    assert request_from_options(from_env, from_env.params).settings[setting.name] == value
    assert setting.column in COLUMNS
    assert (setting.column in SETTINGS) == setting.numbers


def _other_value(setting):
    if setting.kind == "flag":
        return not setting.default
    if setting.kind == "choice":
        return next(c for c in setting.choices if c != setting.default)
    if setting.kind == "lengths":
        return (30, 40)
    return setting.default + 1 if setting.kind == "int" else setting.default / 2 or 0.5


def _toml(value):
    return str(value).lower() if isinstance(value, bool) else repr(value) if isinstance(value, str) else value


def test_a_stored_row_records_amp_and_compile_and_bf16_is_not_comparable_with_float32():
    from bench.reporting.compare import compare_runs
    from bench.analysis import results_frame
    from bench.sweep import ModelConfig, TrainConfig

    base = {"key": "k", "task": "adding", "model": "gru", "length": 10, "seed": 0, "status": "unsolved",
            "accuracy": 0.5, "accuracy_se": 0.01, "loss": 1.0, "loss_ratio": 1.0, "device": "cuda",
            **settings.row_values("gru", ModelConfig(), TrainConfig())}
    assert base["amp"] == "none" and base["compile"] is False
    assert settings.row_values("lru", ModelConfig(), TrainConfig(compile=True))["compile"] is True
    assert settings.row_values("gru", ModelConfig(), TrainConfig(compile=True))["compile"] is False
    mixed = {**base, "amp": "bf16"}
    table = compare_runs(results_frame([base]), results_frame([mixed]), contrasts=())  # like for like
    assert table["marker"].iloc[0].startswith("not comparable (amp none vs bf16")
    across = compare_runs(results_frame([base]), results_frame([mixed]))  # runs that differ as wholes in it
    assert across.attrs["contrasts"][0].text == "amp none → bf16" and across["marker"].iloc[0] == "not significant"
    old = {k: v for k, v in base.items() if k not in ("amp", "compile")}  # stored before the columns existed
    assert compare_runs(results_frame([old]), results_frame([base]))["marker"].iloc[0] == "not significant"


# --- conflicts refused through the command line and the API alike ----------------------------------------

CONFLICTING = [
    (["--hidden", "64", "--hiddens", "32,128"], dict(settings={"hidden": 64}, hiddens=[32, 128]), "--hiddens"),
    (["--lr", "1e-3", "--lrs", "1e-3,3e-3"], dict(settings={"lr": 1e-3}, lrs=[1e-3, 3e-3]), "--lrs"),
    (["--batch-size", "8", "--batch-sizes", "8,16"], dict(settings={"batch_size": 8}, batch_sizes=[8, 16]),
     "--batch-sizes"),
    (["--params", "20k", "--hidden", "64"], dict(settings={"hidden": 64}, params=20_000), "--hidden"),
    (["--seeds", "0,1", "--n-seeds", "2"], dict(seeds=[0, 1], n_seeds=2), "--n-seeds"),
    (["--compile"], dict(settings={"compile": True}), "--compile"),
    (["--amp", "bf16", "--device", "cpu"], dict(settings={"amp": "bf16"}), "--amp"),
    (["--eval-lengths", "1,40"], dict(settings={"eval_lengths": (1, 40)}), "--eval-lengths"),
    (["--cells-per-gpu", "2", "--device", "cpu"], dict(cells_per_gpu=2), "--cells-per-gpu"),
]


@pytest.mark.parametrize("args, fields, option", CONFLICTING, ids=[c[2] + str(i) for i, c in enumerate(CONFLICTING)])
def test_conflicts_are_refused_by_the_cli_and_the_api(args, fields, option, bench_cli, tmp_path):
    out = tmp_path / "out"
    result = bench_cli("run", "--task", "adding", "--lengths", "20", "--models", "rnn,gru", "--out", out, *args)
    assert result.code == 2 and result.stderr.count("\n") == 1 and option in result.stderr
    with pytest.raises(PlanError) as error:
        make_plan(Request(["adding"], [20], ["rnn", "gru"], out=out, **fields))
    assert error.value.option == option
    assert not out.exists()


def test_a_preset_value_gives_way_to_the_command_line_instead_of_conflicting():
    from bench.cli import cli
    from bench.cli.options import plan_or_exit, request_from_options

    context = cli.commands["run"].make_context("run", ["--preset", "bai2018-adding", "--hidden", "32"],
                                               obj={"argv": []})
    sweep = plan_or_exit(request_from_options(context, context.params)).sweep
    assert sweep.params == 0 and sweep.model_config.hidden == 32


def test_more_threads_than_cores_is_a_warning(monkeypatch, bench_cli, tmp_path):
    monkeypatch.setattr("bench.provenance.usable_cores", lambda: 2)
    assert planned(jobs=3, threads=2).warnings and not planned(jobs=1, threads=2).warnings
    result = bench_cli("run", "--task", "adding", "--lengths", "8", "--models", "rnn", "--jobs", "3", "--threads", "2",
                       "--device", "cpu", "--out", tmp_path, "--dry-run")
    assert result.code == 0 and "warning: --jobs 3 x --threads 2" in result.stderr


def test_a_horizon_plans_three_seeds_unless_told_otherwise():
    assert planned(kind="horizon").sweep.seeds == (0, 1, 2)
    assert planned(kind="horizon", n_seeds=2).sweep.seeds == (0, 1)
    assert planned().sweep.seeds == (0,)


def test_the_api_refuses_bad_ranges_like_the_cli(tmp_path):
    with pytest.raises(PlanError, match="--steps"):
        planned(settings={"steps": 0})
    with pytest.raises(PlanError, match="--stop"):
        planned(settings={"stop": "never"})
    with pytest.raises(plan.UnknownSetting):
        planned(settings={"stepz": 3})
    with pytest.raises(plan.UnknownName, match="did you mean 'lstm'"):
        planned(models=["LSTM"])


# --- a model is one declaration --------------------------------------------------------------------------

def test_a_model_registered_in_a_test_file_needs_nothing_else(monkeypatch, tmp_path):
    from bench.models.recurrent import _recurrent
    from bench.runner import estimate_cell_bytes
    from torch import nn

    monkeypatch.setattr(models.registry, "_items", dict(models.registry._items))
    monkeypatch.setattr(models, "specs", dict(models.specs))

    @models.register_model("tiny-test", "a test model", compiles=True, state_floats=lambda steps, hidden: 1000,
                           params={"scale": models.FORGET_BIAS})
    def tiny(n_inputs, n_outputs, hidden, layers=1, tokens=False, scale=None):
        return _recurrent(nn.GRU, n_inputs, n_outputs, hidden, layers, tokens)

    the_plan = planned(models=["tiny-test:scale=2.0"], settings={"compile": True, "steps": 1, "eval_every": 1,
                                                                 "eval_size": 4, "hidden": 4})
    cell = the_plan.sweep.expand()[0]
    assert cell.model == "tiny-test:scale=2" and cell.identity()["train"]["compile"] is True
    assert cell.identity()["model"]["params"] == {"scale": 2.0}
    assert estimate_cell_bytes(cell) > estimate_cell_bytes(
        planned(models=["gru"], settings={"steps": 1, "eval_every": 1, "eval_size": 4, "hidden": 4}).sweep.expand()[0])
