"""Model registry: name -> factory(n_inputs, n_outputs, hidden, layers, tokens, **options) -> nn.Module.

Every model maps (batch, time) token ids or (batch, time, features) to per-step outputs
(batch, time, n_outputs). This module imports no torch: the built-in models are listed in BUILT_IN with
their descriptions and versions, and the module that defines one (bench.models.recurrent, bench.models.zoo) is imported
the first time the model is built, so `bench models` and option checking start fast.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from typing import Any, Callable

from bench.registry import Registry, load_entry_points

ModelFactory = Callable[..., Any]  # returns an nn.Module
descriptions: dict[str, str] = {}
versions: dict[str, int] = {}  # bump a model's version whenever its initial weights or outputs change

# name: (defining module, one-line description, version); the factory is the module's function of the
# same name with '-' written '_'
BUILT_IN: dict[str, tuple[str, str, int]] = {
    "rnn": ("bench.models.recurrent", "vanilla tanh RNN (nn.RNN): the baseline that vanishing gradients limit", 1),
    "lstm": ("bench.models.recurrent", "LSTM with a forget gate (nn.LSTM, Gers et al. 2000 form; not the 1997 LSTM)", 1),
    "gru": ("bench.models.recurrent", "GRU (nn.GRU; Cho et al. 2014)", 1),
    "irnn": ("bench.models.zoo", "ReLU RNN with identity recurrent init (Le, Jaitly & Hinton 2015)", 1),
    "lstm-chrono": ("bench.models.zoo", "LSTM with chrono gate-bias init, T_max = sequence length (Tallec & Ollivier 2018)", 1),
    "lstm-1997": ("bench.models.zoo", "LSTM without a forget gate, as in Hochreiter & Schmidhuber 1997 (gate pinned open)", 1),
    "transformer": ("bench.models.zoo", "small causal Transformer (pre-norm, sinusoidal positions; hidden = width)", 1),
    "lru": ("bench.models.zoo", "Linear Recurrent Unit, parallel scan over time (Orvieto et al. 2023)", 1),
}
TORCH_NAMES = ("SequenceModel", "_recurrent")  # bench.models.recurrent's, importable from here as before


def __getattr__(name: str) -> Any:
    """`from bench.models import SequenceModel` keeps working (plug-ins use it) without importing torch
    for every user of the registry."""
    if name in TORCH_NAMES:
        return getattr(importlib.import_module("bench.models.recurrent"), name)
    raise AttributeError(f"module 'bench.models' has no attribute {name!r}")


def _discover() -> None:
    """The built-in models (their modules load on first use), then the installed `bench.models` entry points."""
    for name, (module, description, version) in BUILT_IN.items():
        registry.register_lazy(name, functools.partial(_built_in, module, name))
        descriptions[name], versions[name] = description, version
    load_entry_points("bench.models", _adopt)


def _built_in(module: str, name: str) -> ModelFactory:
    return getattr(importlib.import_module(module), name.replace("-", "_"))


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


def build(name: str, n_inputs: int, n_outputs: int, hidden: int, layers: int, tokens: bool,
          seq_len: int | None = None, **options: Any) -> Any:
    """Instantiate registered model `name` (UnknownNameError lists close matches). A factory that takes a
    `seq_len` argument is told the sequence length (chrono initialisation needs it); others are not."""
    factory = registry.get(name)
    if seq_len is not None and _accepts(factory, "seq_len"):
        options["seq_len"] = seq_len
    return factory(n_inputs, n_outputs, hidden=hidden, layers=layers, tokens=tokens, **options)


def _accepts(factory: ModelFactory, argument: str) -> bool:
    return argument in inspect.signature(factory).parameters


def count_parameters(model: Any) -> int:
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
        import torch

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
