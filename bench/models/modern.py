"""Today's parallel-scan recurrences, each checked against its own step-by-step form:

- mingru, minlstm: the minimal GRU and LSTM of Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024 ("Were RNNs
  All We Needed?", arXiv:2410.01201, Sec. 3 and its log-space algorithms). Their gates and candidate state
  depend on the input only, so h_t = a_t * h_{t-1} + b_t is a first-order linear recurrence that a scan
  computes in parallel over time: in log space, h_t = exp(A_t) * sum_{s<=t} exp(log b_s - A_s) with
  A_t = sum_{k<=t} log a_k (Heinsen 2023), one cumsum and one logcumsumexp instead of T steps.

  minGRU: z_t = sigmoid(W_z x_t), h~_t = g(W_h x_t), h_t = (1 - z_t) h_{t-1} + z_t h~_t.
  minLSTM: f_t = sigmoid(W_f x_t), i_t = sigmoid(W_i x_t), normalised to f' = f / (f + i), i' = i / (f + i),
  h~_t = g(W_h x_t), h_t = f'_t h_{t-1} + i'_t h~_t.
  g(x) = x + 1/2 for x >= 0, sigmoid(x) below (the paper's log-space form keeps h~ positive). h_{-1} = 0.

Each cell sits in the same pre-norm residual block as bench's lru (LayerNorm, the cell, GELU, a GLU channel
mix, the residual; bench's block, not the paper's code), `layers` of them between an encoder and a per-step
readout. `expansion` widens the cell's state to expansion x width (Feng et al. use an expansion factor in
their stacked models); the GLU mix maps it back.

`forward` is the parallel form used for training; `forward_with_states` replays the same network one step
at a time (every layer's state at every step), the sequential reference the tests hold it equal to and
what the gradient-flow probe differentiates (bench/flow.py).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MAX_EXPANSION = 8


def g(x: torch.Tensor) -> torch.Tensor:
    """Feng et al.'s positive activation for the candidate state: x + 1/2 above 0, sigmoid below."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), computed without forming g where it would lose precision."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t h_{t-1} + b_t along dim 1 (h_{-1} = 0), from log a and log b (b > 0): Heinsen's scan."""
    a_star = torch.cumsum(log_a, dim=1)
    return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))


class MinGRUCell(nn.Module):
    """The minGRU recurrence over (batch, time, width) inputs; its state has `size` units."""

    def __init__(self, width: int, size: int) -> None:
        super().__init__()
        self.gate, self.candidate = nn.Linear(width, size), nn.Linear(width, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.gate(x)  # log z = -softplus(-k), log (1 - z) = -softplus(k)
        return log_space_scan(-F.softplus(k), -F.softplus(-k) + log_g(self.candidate(x)))

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        z = torch.sigmoid(self.gate(x))
        return (1 - z) * h + z * g(self.candidate(x))


class MinLSTMCell(nn.Module):
    """The minLSTM recurrence (normalised forget and input gates) over (batch, time, width) inputs."""

    def __init__(self, width: int, size: int) -> None:
        super().__init__()
        self.forget, self.input, self.candidate = (nn.Linear(width, size) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # log f' = -softplus(d), log i' = -softplus(-d), with d = log i - log f = softplus(-k_f) - softplus(-k_i)
        difference = F.softplus(-self.forget(x)) - F.softplus(-self.input(x))
        return log_space_scan(-F.softplus(difference), -F.softplus(-difference) + log_g(self.candidate(x)))

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        f, i = torch.sigmoid(self.forget(x)), torch.sigmoid(self.input(x))
        return (f * h + i * g(self.candidate(x))) / (f + i)


class ScanBlock(nn.Module):
    """Pre-norm residual block: LayerNorm, the cell, GELU, then a GLU channel mix back to the width."""

    def __init__(self, width: int, cell: nn.Module, size: int) -> None:
        super().__init__()
        self.norm, self.cell, self.mix = nn.LayerNorm(width), cell, nn.Linear(size, 2 * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self._out(self.cell(self.norm(x)))

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step: x (batch, width), the cell's previous state h -> (output, new state)."""
        h = self.cell.step(self.norm(x), h)
        return x + self._out(h), h

    def _out(self, states: torch.Tensor) -> torch.Tensor:
        return F.glu(self.mix(F.gelu(states)), dim=-1)


class ScanNetwork(nn.Module):
    """Encoder, `layers` scan blocks, a final norm and a linear readout per step."""

    def __init__(self, cell: type[nn.Module], n_inputs: int, n_outputs: int, width: int, layers: int, tokens: bool,
                 expansion: int) -> None:
        super().__init__()
        self.size = width * expansion
        self.encode = nn.Embedding(n_inputs, width) if tokens else nn.Linear(n_inputs, width)
        self.blocks = nn.ModuleList(ScanBlock(width, cell(width, self.size), self.size) for _ in range(layers))
        self.norm, self.readout = nn.LayerNorm(width), nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encode(x)
        for block in self.blocks:
            h = block(h)
        return self.readout(self.norm(h))

    def forward_with_states(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The same outputs computed one step at a time, and the whole state (every layer's) at every step:
        each step reads the state tensor the step before produced, so the probe's gradients flow through it."""
        inputs = self.encode(x)
        state = inputs.new_zeros(len(x), self.size * len(self.blocks))
        tops, states = [], []
        for t in range(inputs.shape[1]):
            u, updated = inputs[:, t], []
            for block, h in zip(self.blocks, state.split(self.size, dim=1)):
                u, h = block.step(u, h)
                updated.append(h)
            state = updated[0] if len(updated) == 1 else torch.cat(updated, dim=1)  # as recurrent.unroll stacks it
            tops.append(u)
            states.append(state)
        return self.readout(self.norm(torch.stack(tops, 1))), states


def _checked(expansion: int | None) -> int:
    expansion = 1 if expansion is None else expansion
    if not 1 <= expansion <= MAX_EXPANSION:
        raise ValueError(f"expansion must be 1..{MAX_EXPANSION}")
    return expansion


def mingru(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
           expansion: int | None = None) -> ScanNetwork:
    return ScanNetwork(MinGRUCell, n_inputs, n_outputs, hidden, layers, tokens, _checked(expansion))


def minlstm(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
            expansion: int | None = None) -> ScanNetwork:
    return ScanNetwork(MinLSTMCell, n_inputs, n_outputs, hidden, layers, tokens, _checked(expansion))
