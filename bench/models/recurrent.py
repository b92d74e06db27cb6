"""The classic three (rnn, lstm, gru) around PyTorch's fused kernels, and the SequenceModel wrapper every
recurrent model shares: input encoding, a recurrent core, a linear readout per step.

rnn, lstm and gru wrap nn.RNN / nn.LSTM / nn.GRU so the fused cuDNN and oneDNN kernels do the work. Their
names, descriptions and versions are in bench.models.BUILT_IN, so listing them imports no torch.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


class SequenceModel(nn.Module):
    """Input encoding (one-hot or embedding for tokens), a recurrent core, a linear readout per step."""

    def __init__(self, core: nn.Module, n_inputs: int, n_outputs: int, hidden: int, tokens: bool,
                 embed: int = 0) -> None:
        super().__init__()
        self.n_inputs, self.tokens = n_inputs, tokens
        self.embedding = nn.Embedding(n_inputs, embed) if tokens and embed else None
        self.core = core
        self.readout = nn.Linear(hidden, n_outputs)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """What the core reads: the embedding or one-hot of token ids, or the features as they are."""
        if self.embedding is not None:
            return self.embedding(x)
        if self.tokens:
            return nn.functional.one_hot(x, self.n_inputs).to(self.readout.weight.dtype)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.core(self.encode(x))
        return self.readout(states)

    @property
    def exposes_states(self) -> bool:
        """Whether `forward_with_states` can replay this core step by step (bench.flow's probe reads it)."""
        core = self.core
        return isinstance(core, FUSED) and not core.bidirectional and getattr(core, "proj_size", 0) == 0

    def recurrent_blocks(self) -> list[torch.Tensor]:
        """The square recurrent blocks of a fused core: W_hh of each layer for rnn, one per gate for lstm/gru."""
        if not isinstance(self.core, FUSED):
            return []
        core, hidden = self.core, self.core.hidden_size
        return [block for layer in range(core.num_layers) for block in getattr(core, f"weight_hh_l{layer}").split(hidden, 0)]

    def forward_with_states(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The same outputs as `forward`, one step at a time, with the full recurrent state at every step
        in the autograd graph (the fused kernels hide it): what the gradient-flow probe differentiates."""
        tops, states = unroll(self.core, self.encode(x))
        return self.readout(tops), states


def _recurrent(cell: type[nn.RNNBase], n_inputs: int, n_outputs: int, hidden: int, layers: int,
               tokens: bool, embed: int = 0, **core_options: Any) -> SequenceModel:
    width = embed if tokens and embed else n_inputs
    core = cell(width, hidden, num_layers=layers, batch_first=True, **core_options)
    return SequenceModel(core, n_inputs, n_outputs, hidden, tokens, embed)


def rnn(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
        embed: int = 0) -> SequenceModel:
    return _recurrent(nn.RNN, n_inputs, n_outputs, hidden, layers, tokens, embed, nonlinearity="tanh")


def lstm(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
         embed: int = 0, forget_bias: float | None = None) -> SequenceModel:
    """nn.LSTM; `forget_bias` sets every forget-gate bias at initialisation (PyTorch adds two bias vectors:
    the ih one takes the value and the hh one is zeroed, so their sum is exactly it)."""
    model = _recurrent(nn.LSTM, n_inputs, n_outputs, hidden, layers, tokens, embed)
    if forget_bias is not None:
        for layer in range(layers):
            set_gate_bias(model.core, layer, FORGET_GATE, hidden, (forget_bias,))
    return model


INPUT_GATE, FORGET_GATE = 0, 1  # PyTorch's LSTM gate order: input, forget, cell, output


def set_gate_bias(core: nn.LSTM, layer: int, gate: int, hidden: int, per_block: tuple[float, ...]) -> None:
    """Set one gate's total bias, block by block: the units split into len(per_block) equal blocks (the
    1997 paper's memory-cell blocks), block k taking per_block[k]."""
    bias_ih, bias_hh = getattr(core, f"bias_ih_l{layer}"), getattr(core, f"bias_hh_l{layer}")
    blocks = len(per_block)
    with torch.no_grad():
        for k, value in enumerate(per_block):
            rows = slice(gate * hidden + k * hidden // blocks, gate * hidden + (k + 1) * hidden // blocks)
            bias_ih[rows] = value
            bias_hh[rows] = 0.0


def gru(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
        embed: int = 0) -> SequenceModel:
    return _recurrent(nn.GRU, n_inputs, n_outputs, hidden, layers, tokens, embed)


# --- the fused cores replayed one step at a time (for the gradient-flow probe) ---------------------------

def unroll(core: nn.RNNBase, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """nn.RNN/LSTM/GRU (batch_first) one step at a time: the top layer's outputs (batch, T, hidden) and
    the stacked state of every layer at every step (for LSTM, h before c in each layer's slice)."""
    hidden, layers = core.hidden_size, core.num_layers
    step = next(function for kind, function in _STEPS.items() if isinstance(core, kind))
    width = 2 * hidden if isinstance(core, nn.LSTM) else hidden
    state = x.new_zeros(x.shape[0], layers * width)
    tops, states = [], []
    for t in range(x.shape[1]):
        inputs, pieces = x[:, t], []
        for layer in range(layers):
            new = step(core, layer, inputs, state[:, layer * width:(layer + 1) * width])
            pieces.append(new)
            inputs = new[:, :hidden]
        state = pieces[0] if layers == 1 else torch.cat(pieces, 1)
        states.append(state)
        # the top layer's output read from the stacked state, so that the step's own output depends on it
        # (the probe differentiates this tensor; a path from a lower layer through the top one within the
        # step stays outside it, as a partial derivative with respect to the whole state should)
        tops.append(state[:, (layers - 1) * width:(layers - 1) * width + hidden])
    return torch.stack(tops, 1), states


def _affine(core: nn.RNNBase, layer: int, inputs: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_ih x + b_ih, W_hh h + b_hh) of one layer, as nn.RNNBase defines them."""
    w_ih, w_hh = getattr(core, f"weight_ih_l{layer}"), getattr(core, f"weight_hh_l{layer}")
    b_ih, b_hh = (getattr(core, f"bias_{kind}_l{layer}", None) if core.bias else None for kind in ("ih", "hh"))
    return nn.functional.linear(inputs, w_ih, b_ih), nn.functional.linear(h, w_hh, b_hh)


def _rnn_step(core: nn.RNN, layer: int, inputs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    from_input, from_state = _affine(core, layer, inputs, h)
    return (torch.tanh if core.nonlinearity == "tanh" else torch.relu)(from_input + from_state)


def _lstm_step(core: nn.LSTM, layer: int, inputs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    h, c = state.chunk(2, 1)
    from_input, from_state = _affine(core, layer, inputs, h)
    i, f, g, o = (from_input + from_state).chunk(4, 1)  # PyTorch's gate order
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.cat([torch.sigmoid(o) * torch.tanh(c), c], 1)


def _gru_step(core: nn.GRU, layer: int, inputs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    from_input, from_state = _affine(core, layer, inputs, h)
    (ir, iz, i_n), (hr, hz, h_n) = from_input.chunk(3, 1), from_state.chunk(3, 1)
    reset, update = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    candidate = torch.tanh(i_n + reset * h_n)
    return (1 - update) * candidate + update * h


_STEPS: dict[type, Callable[..., torch.Tensor]] = {nn.LSTM: _lstm_step, nn.GRU: _gru_step, nn.RNN: _rnn_step}
FUSED = tuple(_STEPS)  # the cores the probe replays step by step
