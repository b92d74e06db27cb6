import pytest
import torch

from bench import models
from bench.models import recurrent
from bench.registry import UnknownNameError


@pytest.mark.parametrize("name, core", [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)])
def test_classic_models_wrap_the_fused_torch_modules(name, core):
    model = models.build(name, 2, 1, hidden=8, layers=2, tokens=False)
    assert type(model.core) is core and model.core.num_layers == 2 and model.core.batch_first
    assert model(torch.zeros(3, 11, 2)).shape == (3, 11, 1)


def test_vanilla_rnn_is_tanh():
    assert models.build("rnn", 2, 1, hidden=4, layers=1, tokens=False).core.nonlinearity == "tanh"


@pytest.mark.parametrize("embed", [0, 5])
def test_token_inputs_as_one_hot_or_embedding(embed):
    model = models.build("gru", 10, 9, hidden=8, layers=1, tokens=True, embed=embed)
    tokens = torch.randint(0, 10, (2, 7))
    assert model(tokens).shape == (2, 7, 9)
    assert (model.embedding is not None) == bool(embed)


def test_parameter_count_matches_the_formula():
    # GRU: 3 gates x (input + hidden + 2 biases) x hidden, plus the readout
    model = models.build("gru", 2, 1, hidden=8, layers=1, tokens=False)
    assert models.count_parameters(model) == 3 * 8 * (2 + 8 + 2) + 8 + 1


def test_unknown_model_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'lstm'"):
        models.build("lstn", 2, 1, hidden=8, layers=1, tokens=False)


# --- the models beyond the classic three ---------------------------------------------------------------

import math  # noqa: E402

from bench.models.checks import check_model  # noqa: E402
from bench.sweep import Cell, ModelConfig, TrainConfig  # noqa: E402
from bench.train import train_cell  # noqa: E402
from bench.models.zoo import linear_scan  # noqa: E402


@pytest.mark.parametrize("name", models.registry.names())
def test_every_registered_model_keeps_the_contract(name):
    assert check_model(name) == []


def test_irnn_starts_as_identity_recurrence_with_relu():
    core = models.build("irnn", 3, 2, hidden=6, layers=2, tokens=False).core
    assert core.nonlinearity == "relu" and torch.equal(core.weight_hh_l1, torch.eye(6))
    assert core.bias_hh_l0.abs().sum() == 0 and core.weight_ih_l0.std() < 0.01


def test_chrono_forget_bias_spans_log_1_to_log_tmax_and_input_bias_mirrors_it():
    core = models.build("lstm-chrono", 3, 2, hidden=64, layers=1, tokens=False, seq_len=500).core
    forget = core.bias_ih_l0[64:128] + core.bias_hh_l0[64:128]
    assert 0 <= forget.min() and forget.max() <= math.log(499) and forget.max() > math.log(100)
    assert torch.equal(core.bias_ih_l0[:64] + core.bias_hh_l0[:64], -forget)


def test_lru_parallel_scan_equals_the_step_by_step_recurrence():
    decay = torch.exp(torch.complex(-torch.rand(5) * 0.1, torch.rand(5) * 3))
    inputs = torch.randn(2, 37, 5, dtype=torch.complex128)
    state, expected = torch.zeros(2, 5, dtype=torch.complex128), []
    for step in range(37):
        state = decay * state + inputs[:, step]
        expected.append(state)
    assert torch.allclose(linear_scan(decay, inputs), torch.stack(expected, 1), atol=1e-10)


def _solve(model, length, steps, lr):
    cell = Cell("delayed-recall", length, model, 0, ModelConfig(hidden=32),
                TrainConfig(steps=steps, batch_size=32, lr=lr, eval_every=25, eval_size=256))
    return train_cell(cell)


# Where the literature says a model bridges the gap, it must, in a small budget: attention and the LRU
# reach any position directly; chrono's long forget-gate time constants carry L=50 where a default LSTM
# does not yet; identity-initialised ReLU units carry L=20 where a tanh RNN stays at chance.
@pytest.mark.parametrize("model, length, steps, lr", [
    ("transformer", 50, 300, 3e-3), ("lru", 50, 600, 3e-3), ("lstm-chrono", 50, 600, 3e-3), ("irnn", 20, 600, 1e-3),
])
def test_new_model_solves_delayed_recall_where_the_literature_says_it_should(model, length, steps, lr):
    result = _solve(model, length, steps, lr)
    assert result["status"] == "solved", (result["accuracy"], result["error"])


@pytest.mark.parametrize("model, baseline, length, lr", [("lstm-chrono", "lstm", 50, 3e-3), ("irnn", "rnn", 20, 1e-3)])
def test_the_initialisation_is_what_makes_the_difference(model, baseline, length, lr):
    improved, plain = _solve(model, length, 600, lr), _solve(baseline, length, 600, lr)
    assert improved["status"] == "solved" and plain["status"] == "unsolved"
    assert plain["loss_ratio"] > 0.9  # the plain model is still at chance


# --- versions: a model's behaviour is held to a golden fingerprint for its version ------------------

import dataclasses  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

GOLDEN_MODELS = json.loads((Path(__file__).parent / "golden_models.json").read_text())


def model_fingerprint(name: str) -> dict:
    """Initial weights (from a fixed torch seed) and the output on a fixed input, for `name`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = models.build(name, 3, 2, hidden=8, layers=1, tokens=False, seq_len=12).eval()
    weights = torch.cat([p.detach().flatten().double() for p in model.parameters()])
    x = torch.linspace(-1, 1, 2 * 12 * 3).reshape(2, 12, 3)
    with torch.no_grad():
        out = model(x).double()
    return {"version": models.version(name), "parameters": int(weights.numel()), "weight_sum": float(weights.sum()),
            "weight_abs_sum": float(weights.abs().sum()),
            "output": [round(float(v), 6) for v in out[:, [0, 5, 11]].flatten()]}


@pytest.mark.parametrize("name", sorted(GOLDEN_MODELS))
def test_a_model_behaves_as_its_version_says(name):
    """A change to a built-in model's initial weights or outputs must come with a version bump (which
    changes every key that uses it): then regenerate tests/golden_models.json."""
    now, golden = model_fingerprint(name), GOLDEN_MODELS[name]
    assert now["version"] == golden["version"], f"{name}: version bumped; regenerate its entry in golden_models.json"
    assert now["parameters"] == golden["parameters"], f"{name}: parameter count changed without a version bump"
    for field in ("weight_sum", "weight_abs_sum"):
        assert now[field] == pytest.approx(golden[field], rel=1e-6, abs=1e-6), f"{name}: {field} changed, same version"
    assert now["output"] == pytest.approx(golden["output"], abs=2e-6), f"{name}: outputs changed, same version"


def test_every_built_in_model_has_a_golden_fingerprint():
    assert set(GOLDEN_MODELS) == set(models.registry.names())


def test_a_changed_model_fails_its_golden_test_and_its_version_changes_the_key(monkeypatch):
    from bench.sweep import Cell

    original = models.registry._items["gru"]
    monkeypatch.setitem(models.registry._items, "gru", lambda *a, **k: recurrent.rnn(*a, **k))  # edited, same version
    with pytest.raises(AssertionError, match="without a version bump|same version"):
        test_a_model_behaves_as_its_version_says("gru")
    before = Cell("adding", 50, "gru", 0).key
    monkeypatch.setitem(models.specs, "gru", dataclasses.replace(models.specs["gru"], version=2))
    assert Cell("adding", 50, "gru", 0).key != before
    monkeypatch.setitem(models.registry._items, "gru", original)


def test_lstm_1997_holds_its_forget_gate_at_exactly_one_through_training():
    model = models.build("lstm-1997", 3, 2, hidden=6, layers=2, tokens=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(4, 9, 3)).square().mean().backward()
        optimizer.step()
    for layer in range(2):
        core = model.core
        weights = [getattr(core, f"weight_{kind}_l{layer}")[6:12] for kind in ("ih", "hh")]
        assert all(float(w.detach().abs().max()) == 0.0 for w in weights)
        gate = torch.sigmoid(getattr(core, f"bias_ih_l{layer}")[6:12] + getattr(core, f"bias_hh_l{layer}")[6:12])
        assert torch.equal(gate, torch.ones(6))  # exactly 1 in float32: the cell state is carried unchanged
        assert getattr(core, f"weight_hh_l{layer}")[:6].abs().max() > 0  # the other gates still learn


@pytest.mark.parametrize("target", [20_000, 70_000, 200_000])
@pytest.mark.parametrize("task", ["adding", "copy"])
def test_params_picks_a_width_within_5_percent_for_every_model(task, target):
    import longdep_tasks as task_registry

    spec = task_registry.get(task)
    tokens = spec.inputs == "tokens"
    for name in models.registry.names():
        hidden = models.width_for_params(name, target, spec.n_inputs, spec.n_outputs, tokens)
        built = models.build(name, spec.n_inputs, spec.n_outputs, hidden, 1, tokens, seq_len=100)
        assert abs(models.count_parameters(built) / target - 1) <= 0.05, (name, hidden)


def test_params_too_small_for_a_model_says_so():
    with pytest.raises(models.ParamsTooSmall, match="more than 5% away"):
        models.width_for_params("transformer", 50, 2, 1, False)


# --- model parameters: NAME:key=value, as for tasks --------------------------------------------------------

@pytest.mark.parametrize("model, gate, expected", [
    ("lstm-1997:input_bias=-3/-6", 0, [-3.0] * 4 + [-6.0] * 4),
    ("lstm-1997:input_bias=-2/-4", 0, [-2.0] * 4 + [-4.0] * 4),
    ("lstm:forget_bias=1", 1, [1.0] * 8),
])
def test_gate_biases_are_exactly_as_declared_and_the_1997_forget_gate_stays_pinned(model, gate, expected):
    built = models.build(model, 3, 2, hidden=8, layers=2, tokens=False)
    for layer in range(2):
        total = getattr(built.core, f"bias_ih_l{layer}") + getattr(built.core, f"bias_hh_l{layer}")
        assert total[gate * 8:(gate + 1) * 8].tolist() == expected
    optimizer = torch.optim.Adam(built.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        built(torch.randn(4, 9, 3)).square().mean().backward()
        optimizer.step()
    if model.startswith("lstm-1997"):
        forget = built.core.bias_ih_l0[8:16] + built.core.bias_hh_l0[8:16]
        assert torch.sigmoid(forget).eq(1.0).all() and built.core.weight_hh_l0[8:16].eq(0).all()


def test_a_model_variant_changes_the_key_and_the_default_spelling_keeps_it():
    from bench.sweep import Cell

    plain = Cell("adding", 50, "lstm-1997", 0)
    assert Cell("adding", 50, models.canonical("lstm-1997:input_bias=-3/-6"), 0).key != plain.key
    assert "params" not in plain.identity()["model"]  # cells stored before parameters existed keep their keys


@pytest.mark.parametrize("models_option, message", [
    ("lstm-1997:input_bias=-3/x", "not a list of numbers"),
    ("lstm-1997:input_biass=-3", "has no parameter 'input_biass' (parameters: input_bias="),
    ("gru:forget_bias=1", "model gru has no parameter 'forget_bias' (parameters: none)"),
    ("lstm:forget_bias=1/2", "give one number"),
    ("lstm-1997:input_bias=" + "/".join(["-1"] * 17), "give 1 to 16 biases"),
    ("lstm-1997:input_bias=-1/-1/-1/-1/-1", "gives 5 blocks but the width is 4"),
])
def test_bad_model_parameters_are_one_line_and_exit_2(models_option, message, bench_cli, tmp_path):
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--models", models_option, "--hidden", "4",
                       "--out", tmp_path / "out")
    assert result.code == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_bench_models_lists_each_models_parameters(bench_cli):
    out = bench_cli("models").stdout
    assert "input_bias=B1/B2/..." in out and "forget_bias=" in out and "[--compile applies]" in out
