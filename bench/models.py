"""Model registry: name -> factory(n_inputs, n_outputs, hidden, layers, tokens, **options) -> nn.Module.

Every model maps (batch, time) token ids or (batch, time, features) to per-step outputs
(batch, time, n_outputs). rnn, lstm and gru wrap nn.RNN / nn.LSTM / nn.GRU so the fused cuDNN and
oneDNN kernels do the work.
"""

from __future__ import annotations

import functools
import importlib
import math
import inspect
from typing import Any, Callable

import torch
from torch import nn

from bench.registry import Registry, load_entry_points

ModelFactory = Callable[..., nn.Module]
descriptions: dict[str, str] = {}
versions: dict[str, int] = {}  # bump a model's version whenever its initial weights or outputs change


def _discover() -> None:
    """The models beyond the classic three, then the installed `bench.models` entry points."""
    importlib.import_module("bench.zoo")
    load_entry_points("bench.models", _adopt)


def _adopt(name: str, factory: object) -> None:
    """An entry point naming a factory function (rather than a module that registers its own)."""
    if not callable(factory):
        raise TypeError(f"expected a model factory or a module, got {type(factory).__name__}")
    if not (name in registry and registry.get(name) is factory):
        register_model(name, (factory.__doc__ or "").strip().split("\n")[0])(factory)


registry: Registry[ModelFactory] = Registry("model", _discover)


def register_model(name: str, description: str, version: int = 1) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator: register a model factory under `name` with a one-line description and a version that
    goes into every cell key (tests/test_models.py holds each built-in model to a golden fingerprint of
    its initial weights and outputs, so a change without a bump fails)."""

    def add(factory: ModelFactory) -> ModelFactory:
        registry.register(name, factory)
        descriptions[name] = description
        versions[name] = version
        return factory

    return add


def identity(name: str) -> dict[str, Any]:
    """What of a model goes into a cell key: its name, version and, for a plug-in, the file's sha256."""
    origin = registry.origin(name)
    return {"name": name, "version": versions.get(name, 1), **({"plugin": origin[1]} if origin else {})}


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


@register_model("rnn", "vanilla tanh RNN (nn.RNN): the baseline that vanishing gradients limit")
def rnn(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
        embed: int = 0) -> SequenceModel:
    return _recurrent(nn.RNN, n_inputs, n_outputs, hidden, layers, tokens, embed, nonlinearity="tanh")


@register_model("lstm", "LSTM with a forget gate (nn.LSTM, Gers et al. 2000 form; not the 1997 LSTM)")
def lstm(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
         embed: int = 0) -> SequenceModel:
    return _recurrent(nn.LSTM, n_inputs, n_outputs, hidden, layers, tokens, embed)


@register_model("gru", "GRU (nn.GRU; Cho et al. 2014)")
def gru(n_inputs: int, n_outputs: int, hidden: int, layers: int = 1, tokens: bool = False,
        embed: int = 0) -> SequenceModel:
    return _recurrent(nn.GRU, n_inputs, n_outputs, hidden, layers, tokens, embed)


def build(name: str, n_inputs: int, n_outputs: int, hidden: int, layers: int, tokens: bool,
          seq_len: int | None = None, **options: Any) -> nn.Module:
    """Instantiate registered model `name` (UnknownNameError lists close matches). A factory that takes a
    `seq_len` argument is told the sequence length (chrono initialisation needs it); others are not."""
    factory = registry.get(name)
    if seq_len is not None and _accepts(factory, "seq_len"):
        options["seq_len"] = seq_len
    return factory(n_inputs, n_outputs, hidden=hidden, layers=layers, tokens=tokens, **options)


def _accepts(factory: ModelFactory, argument: str) -> bool:
    return argument in inspect.signature(factory).parameters


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


PARAMS_TOLERANCE = 0.05
MAX_WIDTH = 65536


class ParamsTooSmall(ValueError):
    """No width gives a parameter count within PARAMS_TOLERANCE of the target."""


@functools.lru_cache(maxsize=None)
def width_for_params(name: str, target: int, n_inputs: int, n_outputs: int, tokens: bool, layers: int = 1) -> int:
    """The hidden size whose parameter count is closest to `target` (counts grow with the width, so a
    bisection finds it); ParamsTooSmall when even that is more than 5% away."""
    @functools.lru_cache(maxsize=None)  # the bisection and the final check ask for some widths twice
    def count(hidden: int) -> int:
        with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave global state alone
            return count_parameters(build(name, n_inputs, n_outputs, hidden, layers, tokens, seq_len=100))

    high = 1
    while count(high) < target and high < MAX_WIDTH:  # double first: never build a model far too large
        high *= 2
    low = high // 2 + 1 if high > 1 else 1
    while low < high:  # the smallest width with at least `target` parameters
        middle = (low + high) // 2
        low, high = (middle + 1, high) if count(middle) < target else (low, middle)
    best = min({max(low - 1, 1), low}, key=lambda hidden: abs(count(hidden) - target))
    if abs(count(best) - target) > PARAMS_TOLERANCE * target:
        raise ParamsTooSmall(f"--params {target:,}: {name} has {count(best):,} parameters at its closest width "
                             f"({best}), more than {PARAMS_TOLERANCE:.0%} away (its smallest, width 1, has {count(1):,})")
    return best


def state_floats_per_step(name: str, steps: int = 1, hidden: int = 1) -> float:
    """Activations saved per hidden unit per time step for backward (for memory estimates): fixed for
    the recurrences, growing with log2(steps) for the LRU's scan and with steps for attention."""
    if name == "transformer":  # 4 heads' (steps x steps) attention, probabilities and softmax grad
        return 40 + 12 * 4 * steps / hidden
    if name == "lru":  # complex states kept by each of the log2(steps) scan rounds
        return 24 + 4 * math.ceil(math.log2(max(steps, 2)))
    return {"rnn": 2, "irnn": 2, "gru": 8, "lstm": 10, "lstm-chrono": 10}.get(name, 12)
