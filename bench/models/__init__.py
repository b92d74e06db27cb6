"""Model registry: name -> factory(n_inputs, n_outputs, hidden, layers, tokens, **options) -> nn.Module.

Every model maps (batch, time) token ids or (batch, time, features) to per-step outputs
(batch, time, n_outputs). Each model is one declaration (ModelSpec: description, version, parameters in the `NAME:key=value` form,
whether it compiles, its activations per step); the checks read the declaration, never switch on names. This
module imports no torch: the built-in models are declared in BUILT_IN, and the module that defines one
(bench.models.recurrent, bench.models.zoo) is imported the first time the model is built, so `bench models`
and option checking start fast. A plug-in declares its model with `register_model`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from bench.registry import Registry, UnknownNameError, VariantError, load_entry_points, parse_variant

ModelFactory = Callable[..., Any]  # returns an nn.Module


@dataclass(frozen=True)
class ModelParam:
    """One declared model parameter (`lstm-1997:input_bias=-3/-6`): `parse` turns its text into the value
    the factory receives and raises ValueError saying what is accepted; None (the default) leaves the
    model's own initialisation alone and is never part of the model string."""

    parse: Callable[[str], Any]
    accepts: str  # the accepted form, for help texts and errors
    help: str


@dataclass(frozen=True)
class ModelSpec:
    """Everything bench knows about a model besides its factory: what `bench models` lists, what goes into
    the cell key, and the properties the checks read (never a switch on names)."""

    description: str
    version: int = 1  # bump whenever its initial weights or outputs change
    compiles: bool = False  # torch.compile speeds it up (`--compile` applies; the recurrences run fused kernels)
    # activations saved per hidden unit per time step for backward, given (steps, hidden): memory estimates
    state_floats: Callable[[int, int], float] = lambda steps, hidden: 12
    params: dict[str, ModelParam] = field(default_factory=dict)
    module: str = ""  # a built-in model's defining module, imported on first use


def bias_list(text: str) -> tuple[float, ...]:
    """`-3/-6` -> (-3.0, -6.0): one bias per block of units, each finite and within [-20, 20]."""
    try:
        values = tuple(float(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"{text!r} is not a list of numbers separated by '/', e.g. -3/-6") from None
    if not 1 <= len(values) <= 16 or any(not (math.isfinite(v) and -20 <= v <= 20) for v in values):
        raise ValueError(f"{text!r}: give 1 to 16 biases, each a number in [-20, 20]")
    return values


def one_bias(text: str) -> float:
    """`1` -> 1.0: a finite bias within [-20, 20]."""
    values = bias_list(text)
    if len(values) != 1:
        raise ValueError(f"{text!r}: give one number in [-20, 20]")
    return values[0]


INPUT_BIAS = ModelParam(bias_list, "B1/B2/... (numbers in [-20, 20])",
                        "input-gate bias per block of cells: the units are split into as many equal blocks as "
                        "values (1997: -3/-6 for the adding problem, -2/-4 for the temporal order task 6a)")
FORGET_BIAS = ModelParam(one_bias, "a number in [-20, 20]",
                         "forget-gate bias at initialisation (1: Jozefowicz et al. 2015, the Keras default)")


MAX_EXPANSION = 8  # the widest a cell's state may be, in multiples of the model's width
MLSTM_PARALLEL_STEPS = 256  # mlstm trains with its parallel form up to this length, its recurrent form beyond


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A parser of `NAME:key=N` values: a whole number from `low` to `high` (ValueError saying so)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number ({low} to {high})") from None
        if not low <= value <= high:
            raise ValueError(f"{text!r}: give a whole number from {low} to {high}")
        return value

    return parse


def _whole_param(low: int, high: int, help: str) -> ModelParam:
    return ModelParam(whole_number(low, high), f"a whole number {low}..{high}", help)


EXPANSION = _whole_param(1, MAX_EXPANSION,
                         "the cell's state is this many times the width (default 1); a GLU mix maps it back")
S6_EXPANSION = _whole_param(1, MAX_EXPANSION,
                            "the inner width of the block is this many times the width (default 2, as in Mamba)")
STATE = _whole_param(1, 256, "SSM state numbers per channel (default 16, as in Mamba)")
HEADS = _whole_param(1, 64, "heads, each with its own (d x d) matrix memory and gates (default 4, as in xLSTM's mLSTM)")
MLSTM_EXPANSION = _whole_param(1, MAX_EXPANSION, "the cell's inner width is this many times the width, rounded up "
                                                 "to whole heads (default 2)")


def _mlstm_floats(steps: int, hidden: int) -> float:
    """mlstm's activations per unit and step: its parallel form keeps (T x T) decay, score and weight
    matrices for each of its 4 heads, as attention does; beyond MLSTM_PARALLEL_STEPS its recurrent form keeps one
    (d x d) memory per head and step, d = 2 x hidden / 4."""
    return 40 + (6 * 4 * steps / hidden if steps <= MLSTM_PARALLEL_STEPS else hidden)


def _fused(floats: float) -> Callable[[int, int], float]:
    return lambda steps, hidden: floats


RECURRENT, ZOO, MODERN = "bench.models.recurrent", "bench.models.zoo", "bench.models.modern"
# The built-in models; the factory is the defining module's function of the same name with '-' written '_'
BUILT_IN: dict[str, ModelSpec] = {
    "rnn": ModelSpec("vanilla tanh RNN (nn.RNN): the baseline that vanishing gradients limit", 1,
                     state_floats=_fused(2), module=RECURRENT),
    "lstm": ModelSpec("LSTM with a forget gate (nn.LSTM, Gers et al. 2000 form; not the 1997 LSTM)", 1,
                      state_floats=_fused(10), params={"forget_bias": FORGET_BIAS}, module=RECURRENT),
    "gru": ModelSpec("GRU (nn.GRU; Cho et al. 2014)", 1, state_floats=_fused(8), module=RECURRENT),
    "irnn": ModelSpec("ReLU RNN with identity recurrent init (Le, Jaitly & Hinton 2015)", 1,
                      state_floats=_fused(2), module=ZOO),
    "lstm-chrono": ModelSpec("LSTM with chrono gate-bias init, T_max = sequence length (Tallec & Ollivier 2018)", 1,
                             state_floats=_fused(10), module=ZOO),
    "lstm-1997": ModelSpec("LSTM without a forget gate, as in Hochreiter & Schmidhuber 1997 (gate pinned open); "
                           "input_bias sets the 1997 input-gate biases per block", 1,
                           params={"input_bias": INPUT_BIAS}, module=ZOO),
    # 4 heads' (steps x steps) attention, probabilities and softmax grad
    "transformer": ModelSpec("small causal Transformer (pre-norm, sinusoidal positions; hidden = width)", 1,
                             compiles=True, state_floats=lambda steps, hidden: 40 + 12 * 4 * steps / hidden,
                             module=ZOO),
    # complex states kept by each of the log2(steps) scan rounds
    "lru": ModelSpec("Linear Recurrent Unit, parallel scan over time (Orvieto et al. 2023)", 1, compiles=True,
                     state_floats=lambda steps, hidden: 24 + 4 * math.ceil(math.log2(max(steps, 2))), module=ZOO),
    # the scan's log a, log b, their cumulative sums and exponentials, and the block's norm, GELU and GLU
    "mingru": ModelSpec("minGRU, input-only gates trained with a log-space parallel scan (Feng et al. 2024)", 1,
                        state_floats=_fused(24), params={"expansion": EXPANSION}, module=MODERN),
    "minlstm": ModelSpec("minLSTM, normalised input-only gates, log-space parallel scan (Feng et al. 2024)", 1,
                         state_floats=_fused(28), params={"expansion": EXPANSION}, module=MODERN),
    # the chunked scan's rounds keep (inner x state) numbers per step: 2 x 16 each, about a dozen of them
    "s6": ModelSpec("selective SSM (S6) in Mamba's block: input-dependent step, B and C; chunked parallel scan on "
                    "a GPU, looped on a CPU (Gu & Dao 2023)", 1, state_floats=_fused(400), params={"state": STATE, "expansion": S6_EXPANSION},
                    module=MODERN),
    "mlstm": ModelSpec("matrix-memory LSTM of xLSTM: exponential input gate, stabiliser, (d x d) memory per head; "
                       "parallel form up to 256 steps, recurrent beyond (Beck et al. 2024)", 1,
                       state_floats=lambda steps, hidden: _mlstm_floats(steps, hidden),
                       params={"heads": HEADS, "expansion": MLSTM_EXPANSION}, module=MODERN),
}
specs: dict[str, ModelSpec] = {}
TORCH_NAMES = ("SequenceModel", "_recurrent")  # bench.models.recurrent's, importable from here as before


def __getattr__(name: str) -> Any:
    """`from bench.models import SequenceModel` keeps working (plug-ins use it) without importing torch
    for every user of the registry."""
    if name in TORCH_NAMES:
        return getattr(importlib.import_module("bench.models.recurrent"), name)
    raise AttributeError(f"module 'bench.models' has no attribute {name!r}")


def _discover() -> None:
    """The built-in models (their modules load on first use), then the installed `bench.models` entry points."""
    for name, spec in BUILT_IN.items():
        registry.register_lazy(name, functools.partial(_built_in, spec.module, name))
        specs[name] = spec
    load_entry_points("bench.models", _adopt)


def _built_in(module: str, name: str) -> ModelFactory:
    return getattr(importlib.import_module(module), name.replace("-", "_"))


def _adopt(name: str, factory: object) -> None:
    """An entry point naming a factory function (rather than a module that registers its own)."""
    if not callable(factory):
        raise TypeError(f"expected a model factory or a module, got {type(factory).__name__}")
    if not (name in registry and registry.get(name) is factory):
        register_model(name, (factory.__doc__ or "").strip().split("\n")[0])(factory)


__all__ = ["ModelSpec", "ModelParam", "VariantError", "UnknownNameError", "register_model", "build", "spec",
           "canonical", "identity", "registry"]


registry: Registry[ModelFactory] = Registry("model", _discover)


def register_model(name: str, description: str, version: int = 1, *, compiles: bool = False,
                   state_floats: Callable[[int, int], float] | None = None,
                   params: dict[str, ModelParam] | None = None) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator: register a model factory under `name`, with its whole declaration (ModelSpec): a one-line
    description, a version that goes into every cell key (tests/test_models.py holds each built-in model to
    a golden fingerprint of its initial weights and outputs, so a change without a bump fails), whether
    `--compile` applies, its activations per unit and step for memory estimates, and its parameters (the
    factory takes each as a keyword argument)."""

    def add(factory: ModelFactory) -> ModelFactory:
        registry.register(name, factory)
        specs[name] = ModelSpec(description, version, compiles, state_floats or ModelSpec.state_floats,
                                dict(params or {}))
        return factory

    return add


def spec(model: str) -> ModelSpec:
    """The declaration of the model a model string names (UnknownNameError lists close names)."""
    name = base_name(model)
    if name not in registry:  # without building the model: listing and checking import no torch
        raise UnknownNameError(registry.unknown_message(name))
    return specs.get(name) or ModelSpec("")


def base_name(model: str) -> str:
    """`lstm-1997:input_bias=-3/-6` -> `lstm-1997`."""
    return model.partition(":")[0]


def parameters(model: str) -> dict[str, Any]:
    """The parsed parameters of a model string; VariantError names the parameter and what it accepts."""
    name, raw = parse_variant(model, "model")
    declared = spec(name).params
    values = {}
    for key, text in raw.items():
        if key not in declared:
            known = ", ".join(f"{k}={p.accepts}" for k, p in declared.items()) or "none"
            raise VariantError(f"model {name} has no parameter {key!r} (parameters: {known})")
        try:
            values[key] = declared[key].parse(text)
        except ValueError as error:
            raise VariantError(f"model {name}: {key}={error}") from None
    return values


def canonical(model: str) -> str:
    """The one spelling of a model string: its name, then its parameters sorted, each in its parsed form
    (`lstm-1997:input_bias=-3.0/-6` -> `lstm-1997:input_bias=-3/-6`)."""
    values = parameters(model)
    if not values:
        return base_name(model)
    return base_name(model) + ":" + ",".join(f"{key}={_text(value)}" for key, value in sorted(values.items()))


def _text(value: Any) -> str:
    items = value if isinstance(value, tuple) else (value,)
    return "/".join(f"{item:g}" for item in items)


def version(model: str) -> int:
    return spec(model).version


def description(model: str) -> str:
    return spec(model).description


def compiles(model: str) -> bool:
    """Does `--compile` apply to this model? Only these cells record it in their key."""
    return spec(model).compiles


def identity(model: str) -> dict[str, Any]:
    """What of a model goes into a cell key: its name, version, its parameters where any are set, and for
    a plug-in the file's sha256."""
    name = base_name(model)
    origin = registry.origin(name)
    values = parameters(model)
    return {"name": name, "version": version(name), **({"plugin": origin[1]} if origin else {}),
            **({"params": {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(values.items())}}
               if values else {})}


def build(name: str, n_inputs: int, n_outputs: int, hidden: int, layers: int, tokens: bool,
          seq_len: int | None = None, **options: Any) -> Any:
    """Instantiate the model a model string names (UnknownNameError lists close matches), with its
    parameters. A factory that takes a `seq_len` argument is told the sequence length (chrono
    initialisation needs it); others are not."""
    factory = registry.get(base_name(name))
    options.update(parameters(name))
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
    """Activations saved per hidden unit per time step for backward (for memory estimates), as the model
    declares them."""
    return spec(name).state_floats(steps, hidden)
