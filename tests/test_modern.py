"""Today's parallel-scan recurrences (bench/models/modern.py): the parallel form equals the step-by-step one,
forward and backward; no output depends on a later input; the gradient-flow probe sees their states; bad
parameters are one line."""

import pytest
import torch

from bench import models
from bench.flow import gradient_profile, probeable
from bench.models.modern import CHUNK, chunked_scan, log_space_scan

SCAN_MODELS = ["mingru", "minlstm", "mingru:expansion=2", "minlstm:expansion=3", "s6", "s6:expansion=1,state=4",
               "mlstm", "mlstm:expansion=1,heads=3"]


def _built(name, layers=2, tokens=False, seed=0):
    torch.manual_seed(seed)
    return models.build(name, 11 if tokens else 3, 4, hidden=8, layers=layers, tokens=tokens).double()


def _inputs(tokens, steps, seed=1):
    generator = torch.Generator().manual_seed(seed)
    if tokens:
        return torch.randint(0, 11, (3, steps), generator=generator)
    return torch.randn(3, steps, 3, generator=generator, dtype=torch.float64)


def _assert_same_gradients(model, parallel, sequential):
    """Both forms give every parameter the same gradient for the same random output weighting; a parameter
    neither form used (one step: A's decay of a zero state) counts as zero."""
    weights = torch.randn_like(parallel)
    parameters = list(model.parameters())
    grads = [torch.autograd.grad((out * weights).sum(), parameters, allow_unused=True) for out in (parallel, sequential)]
    for one, other, parameter in zip(*grads, parameters):
        one, other = (torch.zeros_like(parameter) if g is None else g for g in (one, other))
        assert torch.allclose(one, other, rtol=1e-7, atol=1e-9)


def test_the_log_space_scan_is_the_linear_recurrence():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 50, 4, generator=generator, dtype=torch.float64), torch.rand(2, 50, 4, generator=generator,
                                                                                        dtype=torch.float64)
    h, expected = torch.zeros(2, 4, dtype=torch.float64), []
    for t in range(50):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    assert torch.allclose(log_space_scan(a.log(), b.log()), torch.stack(expected, 1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("steps", [1, CHUNK - 1, CHUNK, 3 * CHUNK + 5])
def test_the_chunked_scan_is_the_linear_recurrence_at_lengths_off_the_chunk(steps):
    generator = torch.Generator().manual_seed(steps)
    log_a = -3 * torch.rand(2, steps, 3, 4, generator=generator, dtype=torch.float64)
    b = torch.randn(2, steps, 3, 4, generator=generator, dtype=torch.float64)
    h, expected = torch.zeros(2, 3, 4, dtype=torch.float64), []
    for t in range(steps):
        h = log_a[:, t].exp() * h + b[:, t]
        expected.append(h)
    assert torch.allclose(chunked_scan(log_a, b), torch.stack(expected, 1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", SCAN_MODELS)
@pytest.mark.parametrize("steps", [1, 7, CHUNK * 4, 129])
@pytest.mark.parametrize("tokens", [False, True])
def test_the_parallel_form_equals_the_sequential_one_forward_and_backward(name, steps, tokens):
    """Lengths below, at and off a multiple of the S6 scan's chunk."""
    model, x = _built(name, tokens=tokens), _inputs(tokens, steps)
    parallel = model(x)
    sequential, states = model.forward_with_states(x)
    assert len(states) == steps and torch.allclose(parallel, sequential, rtol=1e-9, atol=1e-10)
    _assert_same_gradients(model, parallel, sequential)


@pytest.mark.parametrize("name, attribute, form", [("s6", "scan", "chunked"), ("s6", "scan", "looped"),
                                                  ("mlstm", "form", "parallel"), ("mlstm", "form", "recurrent")])
@pytest.mark.parametrize("steps", [1, 7, CHUNK * 2, 41])
def test_every_training_form_equals_the_step_form(name, attribute, form, steps):
    model, x = _built(name), _inputs(False, steps)
    for layer in model.modules():
        if hasattr(layer, attribute):
            setattr(layer, attribute, form)
    parallel, (sequential, _) = model(x), model.forward_with_states(x)
    assert torch.allclose(parallel, sequential, rtol=1e-9, atol=1e-10)
    _assert_same_gradients(model, parallel, sequential)


@pytest.mark.parametrize("name", ["mingru", "minlstm", "s6", "mlstm"])
def test_no_output_depends_on_a_later_input(name):
    model, x = _built(name), _inputs(False, 40).requires_grad_(True)
    out = model(x)
    for t in (0, 13, 39):
        grad, = torch.autograd.grad(out[:, t].sum(), x, retain_graph=True)
        assert grad[:, t + 1:].abs().sum() == 0 and grad[:, :t + 1].abs().sum() > 0


@pytest.mark.parametrize("name, steps", [("mingru", 5000), ("minlstm", 5000),
                                         pytest.param("s6", 5000, marks=pytest.mark.slow),
                                         pytest.param("mlstm", 1500, marks=pytest.mark.slow)])
def test_long_sequences_stay_finite_in_float32(name, steps):
    torch.manual_seed(0)
    model = models.build(name, 3, 4, hidden=16, layers=2, tokens=False)
    out = model(torch.randn(2, steps, 3))
    out.sum().backward()
    assert torch.isfinite(out).all() and all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name, size", [("mingru", 8), ("minlstm", 8), ("s6", 16 * 3 + 16 * 16),
                                        ("mlstm", 4 * (4 * 4 + 4 + 1))])
def test_the_gradient_flow_probe_reads_the_state_at_every_step(name, size):
    model = _built(name, layers=1).float()
    assert probeable(model)
    profile, states = gradient_profile(model, _inputs(False, 30).float(), lambda out: out.square().mean(dim=(1, 2)))
    assert profile.shape == (30,) and (profile > 0).all() and states[0].shape == (3, size)
    stacked = _built(name, layers=2).float()
    profile, states = gradient_profile(stacked, _inputs(False, 30).float(), lambda out: out.square().mean(dim=(1, 2)))
    assert states[0].shape == (3, 2 * size) and (profile > 0).all()  # every layer's, the last step's included


@pytest.mark.parametrize("models_option, message", [
    ("mingru:expansion=0", "give a whole number from 1 to 8"),
    ("minlstm:expansion=9", "give a whole number from 1 to 8"),
    ("mingru:expansion=two", "is not a whole number"),
    ("mingru:state=16", "model mingru has no parameter 'state' (parameters: expansion="),
    ("s6:state=0", "give a whole number from 1 to 256"),
    ("s6:state=300", "give a whole number from 1 to 256"),
    ("s6:expansion=9", "give a whole number from 1 to 8"),
    ("s6:rank=2", "model s6 has no parameter 'rank' (parameters: state="),
    ("mlstm:heads=0", "give a whole number from 1 to 64"),
    ("mlstm:heads=65", "give a whole number from 1 to 64"),
    ("mlstm:state=4", "model mlstm has no parameter 'state' (parameters: heads="),
])
def test_bad_scan_model_parameters_are_one_line_and_exit_2(models_option, message, bench_cli, tmp_path):
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--models", models_option, "--out", tmp_path / "out")
    assert result.code == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a whole CLI run (the fast tier covers the module without it)
def test_a_scan_model_trains_a_cell_end_to_end(bench_cli, tmp_path):
    result = bench_cli("run", "--task", "selective-copy", "--lengths", "20", "--models", "mingru,minlstm:expansion=2,s6,mlstm",
                       "--steps", "3", "--eval-every", "1", "--eval-size", "8", "--hidden", "8", "--jobs", "1",
                       "--no-progress", "--out", tmp_path)
    assert result.code == 0, result.stderr
    assert "minlstm:expansion=2" in result.stderr and "4 cells (4 computed" in result.stdout
