"""check_model: the contract every registered model must keep, checked the way check_task checks tasks.

Each check returns a problem string or None, so a plug-in author sees every rule they broke at once.
"""

from __future__ import annotations

from typing import Callable

import torch

from bench import models

STEPS, CHANGED_AT = 12, 6
INPUTS = ((True, 11, 7), (False, 3, 2))  # (tokens, n_inputs, n_outputs): a vocabulary, then features

ModelCheck = Callable[[str, bool, int, int], "str | None"]


def check_model(name: str) -> list[str]:
    """All problems found with model `name`, on token and on feature inputs (empty: it passes)."""
    problems = []
    for tokens, n_inputs, n_outputs in INPUTS:
        for check in MODEL_CHECKS:
            try:
                problem = check(name, tokens, n_inputs, n_outputs)
            except Exception as error:  # a broken plug-in must be reported, not crash the checker
                problem = f"{check.__name__} raised {type(error).__name__}: {error}"
            if problem:
                problems.append(f"{name} ({'tokens' if tokens else 'features'}): {problem}")
    return problems


def _build(name: str, tokens: bool, n_inputs: int, n_outputs: int, seed: int = 0) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return models.build(name, n_inputs, n_outputs, hidden=16, layers=1, tokens=tokens, seq_len=STEPS)


def _inputs(tokens: bool, n_inputs: int, batch: int = 3, steps: int = STEPS, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if tokens:
        return torch.randint(0, n_inputs, (batch, steps), generator=generator)
    return torch.rand(batch, steps, n_inputs, generator=generator)


def _check_outputs(name: str, tokens: bool, n_inputs: int, n_outputs: int) -> str | None:
    model = _build(name, tokens, n_inputs, n_outputs)
    for batch, steps in ((3, STEPS), (1, 1), (2, 37)):
        out = model(_inputs(tokens, n_inputs, batch, steps))
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (batch, steps, n_outputs):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return f"output is {shape} for input {batch}x{steps}; per-step outputs must be {(batch, steps, n_outputs)}"
        if not out.is_floating_point() or not torch.isfinite(out).all():
            return "outputs are not finite floating-point numbers"
    return None


def _check_causal(name: str, tokens: bool, n_inputs: int, n_outputs: int) -> str | None:
    """Changing the input at step t must not change any output before t: the model may not peek."""
    model = _build(name, tokens, n_inputs, n_outputs).eval()
    x = _inputs(tokens, n_inputs)
    changed = x.clone()
    changed[:, CHANGED_AT] = (x[:, CHANGED_AT] + 1) % n_inputs if tokens else x[:, CHANGED_AT] + 1
    with torch.no_grad():
        before, after = model(x)[:, :CHANGED_AT], model(changed)[:, :CHANGED_AT]
    if not torch.allclose(before, after, atol=1e-5):
        return f"outputs before step {CHANGED_AT} changed when only the input at step {CHANGED_AT} did (not causal)"
    return None


def _check_gradients(name: str, tokens: bool, n_inputs: int, n_outputs: int) -> str | None:
    model = _build(name, tokens, n_inputs, n_outputs)
    model(_inputs(tokens, n_inputs)).square().mean().backward()
    parameters = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not parameters:
        return "has no trainable parameters"
    missing = [n for n, p in parameters if p.grad is None]
    if missing:
        return f"parameters get no gradient from the outputs: {', '.join(missing[:4])}"
    if not all(torch.isfinite(p.grad).all() for _, p in parameters):
        return "non-finite gradients"
    return None


def _check_seeded(name: str, tokens: bool, n_inputs: int, n_outputs: int) -> str | None:
    """The same torch seed must give the same initial weights (no numpy or Python randomness)."""
    first, second = _build(name, tokens, n_inputs, n_outputs), _build(name, tokens, n_inputs, n_outputs)
    for (key, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        if not torch.equal(a, b):
            return f"the same torch seed gave different initial {key} (unseeded randomness?)"
    return None


def _check_states(name: str, tokens: bool, n_inputs: int, n_outputs: int) -> str | None:
    """A model the gradient-flow probe sees into must give it the outputs of `forward` and one state per
    step, each reachable from the one before (else the probe's profile would be wrong, not just missing)."""
    from bench import flow

    model = _build(name, tokens, n_inputs, n_outputs)
    if not flow.probeable(model):
        return None
    x = _inputs(tokens, n_inputs)
    outputs, states = flow.forward_with_states(model, x)
    if not torch.allclose(outputs, model(x), atol=1e-5):
        return "forward_with_states gives other outputs than forward"
    if len(states) != STEPS or any(s.dim() != 2 or s.shape[0] != len(x) for s in states):
        return f"forward_with_states must give {STEPS} states of shape (batch, state size), one per step"
    reached, = torch.autograd.grad(states[-1].sum(), states[-2], allow_unused=True)
    if reached is None:
        return "forward_with_states: the last state is not computed from the one before"
    return None


MODEL_CHECKS: tuple[ModelCheck, ...] = (_check_outputs, _check_causal, _check_gradients, _check_seeded, _check_states)
