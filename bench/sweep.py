"""The frozen spec of a run (Sweep), its cells, and their content-addressed keys."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

import longdep_tasks as tasks
from bench import models, settings

# The training loop's version: bump it whenever train.py changes what numbers a cell produces (2: solve
# rules judged on the training stream, confirmed on a validation split, reported on a test split).
PROTOCOL = 2
STOPS = ("solved", "budget")


def _default(name: str) -> Any:
    return settings.BY_NAME[name].default


@dataclass(frozen=True)
class TrainConfig:
    """The training budget and optimiser settings shared by every cell of a sweep. Each field is declared
    (type, range, default, help, column) in bench/settings.py; the defaults come from there."""

    steps: int = _default("steps")  # optimizer steps budget
    batch_size: int = _default("batch_size")
    lr: float = _default("lr")
    clip: float = _default("clip")  # gradient-norm clipping; 0 disables it
    eval_every: int = _default("eval_every")  # steps between held-out evaluations (each costs ~2% of them)
    eval_size: int = _default("eval_size")  # held-out sequences from the eval split
    time_limit: float = _default("time_limit")  # seconds per cell; 0 means none
    stop: str = _default("stop")  # "solved": stop at a confirmed solve; "budget": train the whole budget
    eval_lengths: tuple[int, ...] = _default("eval_lengths")  # after training, also test at these lengths
    # gradient norms and the end-of-training gradient-flow profile; they change no training number, but
    # a cell stored without them is not one that has them
    diagnostics: bool = _default("diagnostics")
    amp: str = _default("amp")  # "bf16": forward passes under autocast; "none": float32 throughout
    compile: bool = _default("compile")  # torch.compile the models that declare they compile

    def identity(self) -> dict[str, Any]:
        """The settings as plain data; settings added later are left out at their default, so cells
        stored before they existed keep their keys."""
        data = asdict(self)
        for name, default in settings.later_defaults().items():
            if data[name] == default:
                del data[name]
        return data


compiles = models.compiles  # does `--compile` apply to this model? Only those cells record it in their key


@dataclass(frozen=True)
class ModelConfig:
    """Model size shared by every model of a sweep."""

    hidden: int = _default("hidden")
    layers: int = _default("layers")


@dataclass(frozen=True)
class Cell:
    """One (task, length, model, seed) training run; `task` is a task string (`adding:markers=anywhere`)."""

    task: str
    length: int
    model: str
    seed: int
    model_config: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    device: str = "cpu"  # a concrete device: cpu, cuda, cuda:N
    threads: int = 1  # torch threads training this cell on CPU
    # where and how often a running cell saves its training state (bench.checkpoint); "" or 0: never.
    # Not part of the key: resuming changes no number
    checkpoint_dir: str = ""
    checkpoint_every: float = 60.0

    @property
    def device_kind(self) -> str:
        """cpu or cuda: what can change the numbers, unlike which GPU ran it."""
        return self.device.split(":")[0]

    def identity(self) -> dict[str, Any]:
        """Everything that can change the cell's numbers, as plain data."""
        return {
            "protocol": PROTOCOL,
            "task": tasks.get(self.task).identity(),
            "length": self.length,
            "model": {**models.identity(self.model), **asdict(self.model_config)},
            "train": self._train_identity(),
            "seed": self.seed,
            "device": self.device_kind,
            # oneDNN's CPU kernels may sum in another order with another thread count (seen: LSTM)
            **({"threads": self.threads} if self.device_kind == "cpu" else {}),
        }

    def _train_identity(self) -> dict[str, Any]:
        """The training settings; --compile only where it applies, so an rnn cell keeps its key."""
        identity = self.train.identity()
        if not compiles(self.model):
            identity.pop("compile", None)
        return identity

    @property
    def key(self) -> str:
        """A stable content hash of `identity()`: equal keys mean equal results."""
        return content_hash(self.identity())

    def label(self) -> str:
        """Short human name: `adding L=50 gru seed=0`."""
        return f"{self.task} L={self.length} {self.model} seed={self.seed}"


@dataclass(frozen=True)
class Sweep:
    """What a `bench run` computes: every task x length x model x setting x seed.

    A setting is one (hidden, lr, batch size): `hiddens`, `lrs` and `batch_sizes` sweep them (empty: the
    single value in `model_config` / `train`). With `params` > 0 each model's width is chosen per task so
    that its parameter count is within 5% of `params` (it replaces `hiddens`)."""

    tasks: tuple[str, ...]
    lengths: tuple[int, ...]
    models: tuple[str, ...] = ("rnn", "lstm", "gru")
    seeds: tuple[int, ...] = (0,)
    model_config: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    device: str = "cpu"
    threads: int = 1  # per cell; how many cells run at once is the executor's business
    hiddens: tuple[int, ...] = ()
    lrs: tuple[float, ...] = ()
    batch_sizes: tuple[int, ...] = ()
    params: int = 0

    def expand(self) -> list[Cell]:
        """The cells in a fixed order: task, length, model, setting (hidden, lr, batch), seed."""
        return [
            Cell(task, length, model, seed, replace(self.model_config, hidden=hidden),
                 replace(self.train, lr=lr, batch_size=batch), self.device, self.threads)
            for task in self.tasks
            for length in self.lengths
            for model in self.models
            for hidden in self.widths(task, model)
            for lr in self.lrs or (self.train.lr,)
            for batch in self.batch_sizes or (self.train.batch_size,)
            for seed in self.seeds
        ]

    def widths(self, task: str, model: str) -> tuple[int, ...]:
        """The hidden sizes `model` is trained with on `task`."""
        if self.params:
            spec = tasks.get(task)
            return (models.width_for_params(model, self.params, spec.n_inputs, spec.n_outputs,
                                            spec.inputs == "tokens", self.model_config.layers),)
        return self.hiddens or (self.model_config.hidden,)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the manifest (axes added later are left out when unused, so the run folder of
        a sweep written before they existed keeps its name)."""
        data = {**asdict(self), "train": self.train.identity()}
        for name in ("hiddens", "lrs", "batch_sizes", "params"):
            if not data[name]:
                del data[name]
        return data

    def default_name(self) -> str:
        """`adding-1a2b3c4d`: the same sweep always lands in the same run folder."""
        identity = {**self.to_dict(), "device": self.device.split(":")[0]}
        names = re.sub(r"[^A-Za-z0-9._+-]+", "-", "+".join(self.tasks))[:80]
        return f"{names}-{content_hash(identity)[:8]}"


def content_hash(data: Any) -> str:
    """sha256 of canonical JSON, first 20 hex digits."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]
