"""The classic three (rnn, lstm, gru) around PyTorch's fused kernels, and the SequenceModel wrapper every
recurrent model shares: input encoding, a recurrent core, a linear readout per step.

rnn, lstm and gru wrap nn.RNN / nn.LSTM / nn.GRU so the fused cuDNN and oneDNN kernels do the work. Their
names, descriptions and versions are in bench.models.BUILT_IN, so listing them imports no torch.
"""

from __future__ import annotations

from typing import Any

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
