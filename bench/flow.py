"""Gradient flow across time: how much of the loss's gradient reaches the state at each time step.

A recurrent model forgets because dL/ds_t, carried back from the loss through t' = T-1, ..., t+1, is a
product of state Jacobians ds_t'/ds_{t'-1}: below 1 in norm it vanishes geometrically, above 1 it
explodes (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013). The fused nn.RNN/LSTM/GRU
kernels hide their per-step states from autograd, so their model (bench.models.recurrent.SequenceModel)
recomputes the same outputs one step at a time with the same weights (tests hold the two equal), and the
probe differentiates each step's state.

The state s_t is everything the recurrence carries: h_t for rnn and gru, (h_t, c_t) for lstm, every
layer's stacked. A model of another kind opts in by defining `forward_with_states(x) -> (outputs,
states)`, with `states` a list of T tensors (batch, state size), each computed from the one before.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

JACOBIAN_ELEMENTS = 2**24  # numbers per batched Jacobian product (128 MiB in float64)
JACOBIAN_POINTS = 8  # time steps, spread over the sequence, at which the state Jacobian is averaged
OPT_IN = ("defines forward_with_states(x) -> (outputs, per-step states); see bench/flow.py")


class NotProbeable(ValueError):
    """The model does not expose its per-step recurrent state."""


def probeable(model: nn.Module) -> bool:
    """Can the probe see this model's state at every step? The model says so: it defines
    `forward_with_states`, and `exposes_states` (where defined) is true for this instance."""
    return callable(getattr(model, "forward_with_states", None)) and bool(getattr(model, "exposes_states", True))


def forward_with_states(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The model's outputs and its full recurrent state at every step, each in the autograd graph."""
    if not probeable(model):
        raise NotProbeable(f"{type(model).__name__} exposes no per-step recurrent state (a model opts in when it {OPT_IN})")
    return model.forward_with_states(x)




def gradient_profile(model: nn.Module, x: torch.Tensor,
                     sequence_losses: Callable[[torch.Tensor], torch.Tensor]) -> tuple[np.ndarray, list[torch.Tensor]]:
    """||dl_b/ds_t|| for every step t, averaged over the sequences b of the batch (each sequence's own
    loss, so the profile does not depend on the batch size), and the states (for the Jacobian).

    Computed on a float64 copy of the model: a vanishing gradient falls below float32's smallest number
    (about 1e-45) within a few hundred steps, where it would read as exactly 0 rather than be measured.
    Only the states are differentiated: the model and its .grad are left as they were."""
    model = copy.deepcopy(model).double()
    outputs, states = forward_with_states(model, x.double() if x.is_floating_point() else x)
    grads = torch.autograd.grad(sequence_losses(outputs).sum(), states, retain_graph=True, allow_unused=True)
    norms = torch.stack([g.norm(dim=1) if g is not None else x.new_zeros(len(x), dtype=torch.float64) for g in grads], 1)
    return norms.mean(0).detach().cpu().double().numpy(), states


def decay_rate(profile: np.ndarray) -> float | None:
    """The least-squares slope of ln ||dL/ds_t|| against the distance T-1-t to the end of the sequence:
    ln of the factor by which the gradient shrinks (< 0) or grows (> 0) per step back in time. Steps
    whose norm underflowed to 0 or is not finite are left out; None with fewer than two left."""
    distance = np.arange(len(profile))[::-1].astype(float)
    keep = np.isfinite(profile) & (profile > 0)
    if keep.sum() < 2:
        return None
    return float(np.polyfit(distance[keep], np.log(profile[keep]), 1)[0])


def first_to_last(profile: np.ndarray) -> float | None:
    """||dL/ds_0|| / ||dL/ds_{T-1}||: how much of the gradient at the end reaches the first step."""
    if len(profile) == 0 or not profile[-1] > 0 or not np.isfinite(profile).all():
        return None
    return float(profile[0] / profile[-1])


def jacobian_radius(states: list[torch.Tensor], points: int = JACOBIAN_POINTS) -> float | None:
    """The spectral radius of the state Jacobian ds_t/ds_{t-1} averaged over the batch and over `points`
    steps spread along the sequence. For a vanilla RNN it is that of diag(1 - h^2) W_hh; for gated
    models it includes the gates (for LSTM the whole (h, c) state)."""
    if len(states) < 2:
        return None
    times = sorted({round(t) for t in np.linspace(1, len(states) - 1, min(points, len(states) - 1))})
    total = sum(_mean_jacobian(states[t - 1], states[t]) for t in times) / len(times)
    if not torch.isfinite(total).all():
        return None
    return float(torch.linalg.eigvals(total.double()).abs().max())


def _mean_jacobian(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """(size, size) batch mean of d after[b] / d before[b]: one batched vector-Jacobian product per unit,
    in chunks of units so a wide state never asks for more than JACOBIAN_ELEMENTS numbers at once."""
    batch, size = after.shape
    eye = torch.eye(size, dtype=after.dtype, device=after.device)
    chunk = max(1, JACOBIAN_ELEMENTS // (batch * size))
    rows = []
    for first in range(0, size, chunk):
        basis = eye[first:first + chunk, None, :].expand(-1, batch, size)
        part, = torch.autograd.grad(after, before, grad_outputs=basis, is_grads_batched=True, retain_graph=True)
        rows.append(part.mean(1).detach().float().cpu())
    return torch.cat(rows)


def recurrent_matrices(model: nn.Module) -> list[torch.Tensor]:
    """The square recurrent blocks the model declares (`recurrent_blocks()`: W_hh of each layer for rnn, one
    per gate for lstm/gru); none for a model without them."""
    blocks = getattr(model, "recurrent_blocks", None)
    return blocks() if callable(blocks) else []


def weight_radius(model: nn.Module) -> float | None:
    """Spectral radius of the top layer's recurrent weight matrix, for a vanilla (single-matrix) RNN."""
    if not isinstance(getattr(model, "core", None), nn.RNN):
        return None
    matrix = getattr(model.core, f"weight_hh_l{model.core.num_layers - 1}").detach().double()
    return float(torch.linalg.eigvals(matrix).abs().max())


def set_init_radius(model: nn.Module, radius: float) -> None:
    """Rescale every square recurrent block (W_hh; each gate's block for lstm/gru) to spectral radius
    `radius`: above 1 a vanilla RNN's gradient explodes, below 1 it vanishes."""
    blocks = recurrent_matrices(model)
    if not blocks:
        raise NotProbeable(f"{type(model).__name__} has no recurrent weight matrix to rescale")
    with torch.no_grad():
        for block in blocks:
            current = float(torch.linalg.eigvals(block.double()).abs().max())
            if current > 0:
                block.mul_(radius / current)


def summarize_norms(norms: list[float], clip: float) -> dict[str, Any]:
    """The pre-clipping gradient norms of a training run: median, 95th percentile, max (over finite
    steps), and the fraction of steps where clipping scaled the gradient down (0 with clipping off)."""
    values = np.asarray(norms, dtype=float)
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {"grad_norm_median": None, "grad_norm_p95": None, "grad_norm_max": None, "clipped_fraction": None}
    return {"grad_norm_median": float(np.median(finite)), "grad_norm_p95": float(np.percentile(finite, 95)),
            "grad_norm_max": float(finite.max()),
            "clipped_fraction": float(np.mean(values > clip)) if clip > 0 else 0.0}


def end_of_training(model: nn.Module, x: torch.Tensor,
                    sequence_losses: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, Any]:
    """A cell's gradient-flow diagnostics after training: the profile on a small held-out batch, its
    decay rate and first-to-last ratio. None where the model is not probeable."""
    if not probeable(model):
        return {"flow_decay": None, "flow_first_to_last": None, "gradient_flow": None}
    with torch.enable_grad():
        profile, _ = gradient_profile(model, x, sequence_losses)
    rate = decay_rate(profile)
    return {"flow_decay": rate, "flow_first_to_last": first_to_last(profile),
            "gradient_flow": [float(v) if math.isfinite(v) else None for v in profile]}
