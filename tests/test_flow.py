"""Gradient flow across time: the probe's numbers against analytic ones, the classic vanishing/exploding
picture, the per-cell diagnostics (which must change no training number), and `bench probe`."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import longdep_tasks as tasks
from bench import flow, models
from bench.probe import ProbeSpec, run_probe
from bench.reporting.publish import build_report
from bench.analysis import results_frame
from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import sequence_losses, train_cell

ADDING = tasks.get("adding")


class LinearRNN(nn.Module):
    """h_t = a h_{t-1} + U x_t, y_t = V h_t: dL/dh_t = a^(T-1-t) dL/dh_{T-1} when the loss is at the last
    step. It opts in to the probe the way a plug-in model would, by defining forward_with_states."""

    def __init__(self, a: float, hidden: int = 6) -> None:
        super().__init__()
        self.a = a
        self.encode = nn.Linear(ADDING.n_inputs, hidden)
        self.readout = nn.Linear(hidden, ADDING.n_outputs)

    def forward_with_states(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, states = x.new_zeros(len(x), self.readout.in_features), []
        for t in range(x.shape[1]):
            h = self.a * h + self.encode(x[:, t])
            states.append(h)
        return self.readout(torch.stack(states, 1)), states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_states(x)[0]


def _adding_batch(length: int, n: int = 16) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(a) for a in ADDING.generate(n, length, 0, "valid"))


@pytest.mark.parametrize("a", [0.5, 0.9, 1.05])
def test_linear_rnn_decay_rate_and_jacobian_equal_the_analytic_ones(a):
    torch.manual_seed(0)
    x, y, mask = _adding_batch(30)
    profile, states = flow.gradient_profile(LinearRNN(a), x, lambda out: sequence_losses(ADDING, out, y, mask))
    assert flow.decay_rate(profile) == pytest.approx(math.log(a), rel=1e-6)
    assert flow.first_to_last(profile) == pytest.approx(a ** (len(profile) - 1), rel=1e-6)
    assert flow.jacobian_radius(states) == pytest.approx(a, rel=1e-6)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "irnn", "lstm-1997"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("tokens", [False, True])
def test_the_unrolled_steps_reproduce_the_fused_kernels(name, layers, tokens):
    torch.manual_seed(1)
    model = models.build(name, 5, 3, 8, layers, tokens=tokens, seq_len=12)
    x = torch.randint(0, 5, (4, 12)) if tokens else torch.randn(4, 12, 5)
    outputs, states = flow.forward_with_states(model, x)
    torch.testing.assert_close(outputs, model(x), atol=1e-5, rtol=1e-5)
    width = 2 * 8 if "lstm" in name else 8
    assert len(states) == 12 and states[-1].shape == (4, layers * width)


def test_models_without_per_step_state_are_not_probeable():
    for name in ("transformer", "lru"):
        model = models.build(name, 2, 1, 8, 1, tokens=False, seq_len=10)
        assert not flow.probeable(model)
        with pytest.raises(flow.NotProbeable, match="forward_with_states"):
            flow.forward_with_states(model, torch.randn(2, 10, 2))
    assert flow.probeable(LinearRNN(0.5))


def test_at_initialisation_the_rnn_gradient_reaching_the_first_step_is_smaller_than_the_lstms():
    result = run_probe(ProbeSpec("adding", 200, ("rnn", "lstm")))  # default width, seed and init
    ratio = {row["model"]: row["first_to_last"] for row in result.summary}
    assert 0 < ratio["rnn"] < ratio["lstm"] < 1
    rnn = next(row for row in result.summary if row["model"] == "rnn")
    assert rnn["weight_radius"] < 1 and rnn["jacobian_radius"] <= rnn["weight_radius"] + 1e-9


def test_init_radius_above_one_makes_the_unclipped_rnn_gradient_explode():
    def probe(radius: float) -> tuple[dict, list[float]]:
        spec = ProbeSpec("adding", 100, ("rnn",), train_steps=10, checkpoints=1, hidden=64, clip=0.0, init_radius=radius)
        result = run_probe(spec)
        return result.summary[0], [row["grad_norm"] for row in result.training]

    vanishing, small_norms = probe(0.9)
    exploding, large_norms = probe(1.5)
    assert exploding["weight_radius"] == pytest.approx(1.5) and vanishing["weight_radius"] == pytest.approx(0.9)
    assert vanishing["factor_per_step"] < 1 < exploding["factor_per_step"]
    assert exploding["first_to_last"] > 1 > vanishing["first_to_last"]
    assert np.median(large_norms) > 5 * np.median(small_norms)


def test_norm_statistics_count_clipping_by_hand():
    norms = [0.5, 2.0, 3.0, float("nan"), 0.1, 1.5]
    found = flow.summarize_norms(norms, clip=1.0)
    assert found["clipped_fraction"] == pytest.approx(3 / 6)
    assert found["grad_norm_median"] == pytest.approx(1.5) and found["grad_norm_max"] == 3.0
    assert found["grad_norm_p95"] == pytest.approx(np.percentile([0.5, 2.0, 3.0, 0.1, 1.5], 95))
    assert flow.summarize_norms(norms, clip=0.0)["clipped_fraction"] == 0.0


def _cell(steps: int = 12, clip: float = 2.0, diagnostics: bool = True) -> Cell:
    return Cell("adding", 20, "lstm", 0, ModelConfig(16, 1),
                TrainConfig(steps=steps, batch_size=8, clip=clip, eval_every=5, eval_size=40, diagnostics=diagnostics))


def test_a_cells_clipped_fraction_matches_a_hand_count_of_its_gradient_norms():
    record = train_cell(_cell())
    # the probe trains the same model on the same stream: its norms, counted by hand
    spec = ProbeSpec("adding", 20, ("lstm",), train_steps=record["steps"], checkpoints=1, hidden=16, batch_size=8, clip=2.0)
    norms = [row["grad_norm"] for row in run_probe(spec).training]
    assert len(norms) == record["steps"] == 12
    assert record["clipped_fraction"] == pytest.approx(sum(n > 2.0 for n in norms) / len(norms))
    assert 0 < record["clipped_fraction"] < 1  # the hand count is not trivially all or nothing
    assert record["grad_norm_max"] == pytest.approx(max(norms), rel=1e-5)
    assert train_cell(_cell(clip=0.0))["clipped_fraction"] == 0.0


def test_diagnostics_change_no_training_number():
    with_them, without = train_cell(_cell()), train_cell(_cell(diagnostics=False))
    assert with_them["key"] != without["key"]  # a cell without diagnostics is not one that has them
    assert without["gradient_flow"] is None and without["flow_decay"] is None
    assert len(with_them["gradient_flow"]) == ADDING.seq_len(20) and with_them["flow_decay"] < 0
    ignored = {"key", "diagnostics", "seconds", "steps_per_second", "provenance", "curve",
               *[k for k in with_them if "flow" in k or "norm" in k], "clipped_fraction"}
    same = {k: v for k, v in with_them.items() if k not in ignored}
    assert same == {k: v for k, v in without.items() if k not in ignored}
    assert [{**p, "seconds": 0} for p in with_them["curve"]] == [{**p, "seconds": 0} for p in without["curve"]]


def test_the_report_has_a_gradient_flow_section_and_cell_details(tmp_path):
    records = [train_cell(replace(_cell(steps=6), seed=seed)) for seed in (0, 1)]
    records.append(train_cell(replace(_cell(steps=6), model="rnn")))
    build_report(tmp_path, records, {"name": "flow"})
    markdown = (tmp_path / "report.md").read_text()
    section = markdown.split("## Gradient flow")[1].split("## All cells")[0]
    assert "| adding | lstm | 20 | 2 |" in section and "| adding | rnn | 20 | 1 |" in section
    page = (tmp_path / "report.html").read_text()
    assert "id='gradient-flow'" in page and "clipped_fraction" in page and "flow_decay" in page
    assert (tmp_path / "plots" / "gradient_flow.png").is_file()
    assert "gradient_flow" not in pd.read_csv(tmp_path / "results.csv").columns  # the profile stays in the cell file
    assert {"grad_norm_p95", "clipped_fraction", "flow_decay"} <= set(results_frame(records).columns)


def test_a_run_without_diagnostics_has_no_gradient_flow_section(tmp_path):
    build_report(tmp_path, [train_cell(_cell(steps=4, diagnostics=False))], {"name": "plain"})
    assert "## Gradient flow" not in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "plots" / "gradient_flow.png").exists()


def test_bench_probe_writes_tables_and_a_plot(bench_cli, tmp_path):
    result = bench_cli("probe", "--task", "adding", "--length", "20", "--models", "rnn,gru", "--hidden", "8",
                       "--train-steps", "4", "--checkpoints", "2", "--out", tmp_path)
    assert result.code == 0, result.stderr
    folder = next((tmp_path / "probes").iterdir())
    summary = pd.read_csv(folder / "summary.csv")
    assert sorted(summary["step"].unique()) == [0, 2, 4] and set(summary["model"]) == {"rnn", "gru"}
    profiles = pd.read_csv(folder / "profiles.csv")
    assert len(profiles) == 2 * 3 * ADDING.seq_len(20) and profiles["distance"].min() == 0
    assert len(pd.read_csv(folder / "training.csv")) == 2 * 4
    assert (folder / "probe.png").is_file() and json.loads((folder / "probe.json").read_text())["not_probed"] == {}
    assert "factor/step" in result.stderr


def test_bench_probe_all_lists_the_models_it_cannot_probe(bench_cli, tmp_path):
    result = bench_cli("probe", "--task", "adding", "--length", "10", "--models", "all", "--hidden", "4", "--out", tmp_path)
    assert result.code == 0, result.stderr
    assert "not probed: transformer" in result.stderr and "not probed: lru" in result.stderr
    not_probed = json.loads(next((tmp_path / "probes").iterdir()).joinpath("probe.json").read_text())["not_probed"]
    assert set(not_probed) == {"transformer", "lru"}


def test_bench_probe_refuses_a_model_it_cannot_probe_when_named(bench_cli, tmp_path):
    result = bench_cli("probe", "--task", "adding", "--length", "10", "--models", "rnn,transformer", "--out", tmp_path)
    assert result.code == 2 and "transformer cannot be probed" in result.stderr
    assert not tmp_path.joinpath("probes").exists()


class PeekingStates(LinearRNN):
    """States that do not come from the previous step: the probe's profile would be meaningless."""

    def forward_with_states(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        states = [self.encode(x[:, t]) for t in range(x.shape[1])]
        return self.readout(torch.stack(states, 1)), states


@pytest.mark.parametrize("model, problem", [(lambda *a, **k: LinearRNN(0.5), None),
                                            (lambda *a, **k: PeekingStates(0.5), "not computed from the one before")])
def test_the_model_checker_holds_an_opted_in_model_to_the_probe_contract(monkeypatch, model, problem):
    from bench.models.checks import _check_states

    monkeypatch.setitem(models.registry._items, "opted-in", model)
    found = _check_states("opted-in", False, ADDING.n_inputs, ADDING.n_outputs)
    assert found == problem or (problem and problem in found)


def test_diagnostics_on_by_default_leave_stored_keys_and_run_names_alone():
    from bench.sweep import Sweep

    plain = Cell("adding", 10, "gru", 0)
    # the key this cell had before diagnostics existed, but for the adding rule's MSE bound (0.16 -> 0.04 on
    # the [0, 2) scale, #23), which is part of the task's identity
    assert plain.key == "a975d6e1cf8a8b4a684c"
    assert Sweep(("adding",), (50, 200, 1000)).default_name() == "adding-39be41d8"
    assert replace(plain, train=TrainConfig(diagnostics=False)).key != plain.key


def test_the_jacobian_of_a_wide_state_is_computed_in_chunks_with_the_same_result(monkeypatch):
    torch.manual_seed(0)
    weight, before = torch.randn(6, 6), torch.randn(4, 6, requires_grad=True)
    after = torch.tanh(before @ weight.T)
    whole = flow._mean_jacobian(before, after)
    monkeypatch.setattr(flow, "JACOBIAN_ELEMENTS", 4 * 6 * 2)  # two units per batched product
    torch.testing.assert_close(flow._mean_jacobian(before, after), whole)
    by_hand = torch.stack([torch.autograd.functional.jacobian(lambda h: torch.tanh(h @ weight.T), before[b].detach())
                           for b in range(4)]).mean(0)
    torch.testing.assert_close(whole, by_hand)


def test_a_probe_whose_training_diverges_says_so(bench_cli, tmp_path):
    result = bench_cli("probe", "--task", "adding", "--length", "100", "--models", "irnn", "--init-radius", "3",
                       "--clip", "0", "--train-steps", "10", "--hidden", "8", "--out", tmp_path)
    assert result.code == 0 and "irnn: training stopped at step 1" in result.stderr
    assert json.loads(next((tmp_path / "probes").iterdir()).joinpath("probe.json").read_text())["diverged_at"] == {"irnn": 1}


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_a_stacked_models_state_gets_a_gradient_at_every_step_the_last_included(name):
    from bench import models as registry

    torch.manual_seed(0)
    model = registry.build(name, 3, 2, hidden=8, layers=2, tokens=False)
    x = torch.randn(4, 12, 3)
    assert torch.allclose(model(x), model.forward_with_states(x)[0], atol=1e-6)
    profile, states = flow.gradient_profile(model, x, lambda out: out.square().mean(dim=(1, 2)))
    assert states[0].shape[1] == 2 * (16 if name == "lstm" else 8) and (profile > 0).all()
