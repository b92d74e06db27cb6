"""Model registry: name -> factory(n_inputs, n_outputs, hidden, layers, tokens, **options) -> nn.Module.

Every model maps (batch, time) token ids or (batch, time, features) to per-step outputs
(batch, time, n_outputs). rnn, lstm and gru wrap nn.RNN / nn.LSTM / nn.GRU so the fused cuDNN and
oneDNN kernels do the work.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from bench.registry import Registry

ModelFactory = Callable[..., nn.Module]
registry: Registry[ModelFactory] = Registry("model")
descriptions: dict[str, str] = {}


def register_model(name: str, description: str) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator: register a model factory under `name` with a one-line description."""

    def add(factory: ModelFactory) -> ModelFactory:
        registry.register(name, factory)
        descriptions[name] = description
        return factory

    return add


class SequenceModel(nn.Module):
    """Input encoding (one-hot or embedding for tokens), a recurrent core, a linear readout per step."""

    def __init__(self, core: nn.Module, n_inputs: int, n_outputs: int, hidden: int, tokens: bool,
                 embed: int = 0) -> None:
        super().__init__()
        self.n_inputs, self.tokens = n_inputs, tokens
        self.embedding = nn.Embedding(n_inputs, embed) if tokens and embed else None
        self.core = core
        self.readout = nn.Linear(hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            x = self.embedding(x)
        elif self.tokens:
            x = nn.functional.one_hot(x, self.n_inputs).to(self.readout.weight.dtype)
        states, _ = self.core(x)
        return self.readout(states)


def _recurrent(cell: type[nn.RNNBase], n_inputs: int, n_outputs: int, hidden: int, layers: int,
               tokens: bool, embed: int = 0, **core_options: Any) -> SequenceModel:
    width = embed if tokens and embed else n_inputs
    core = cell(width, hidden, num_layers=layers, batch_first=True, **core_options)
    return SequenceModel(core, n_inputs, n_outputs, hidden, tokens, embed)


@register_model("rnn", "vanilla tanh RNN (nn.RNN): the baseline that vanishing gradients limit")
def rnn(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
        embed: int = 0) -> SequenceModel:
    return _recurrent(nn.RNN, n_inputs, n_outputs, hidden, layers, tokens, embed, nonlinearity="tanh")


@register_model("lstm", "LSTM (nn.LSTM; Hochreiter & Schmidhuber 1997)")
def lstm(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
         embed: int = 0) -> SequenceModel:
    return _recurrent(nn.LSTM, n_inputs, n_outputs, hidden, layers, tokens, embed)


@register_model("gru", "GRU (nn.GRU; Cho et al. 2014)")
def gru(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
        embed: int = 0) -> SequenceModel:
    return _recurrent(nn.GRU, n_inputs, n_outputs, hidden, layers, tokens, embed)


def build(name: str, n_inputs: int, n_outputs: int, hidden: int, layers: int, tokens: bool,
          **options: Any) -> nn.Module:
    """Instantiate registered model `name` (UnknownNameError lists close matches)."""
    return registry.get(name)(n_inputs, n_outputs, hidden=hidden, layers=layers, tokens=tokens, **options)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def state_floats_per_step(name: str) -> int:
    """Activations saved per hidden unit per time step for backward (for memory estimates)."""
    return {"rnn": 2, "gru": 8, "lstm": 10}.get(name, 12)
