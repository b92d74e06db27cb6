"""The plan: what a user asked for (the command line, a config file, a preset, `bench.api`, `bench horizon`),
turned into one checked, canonical sweep before anything is trained or written.

The CLI and the API only translate their arguments into a `Request`; every rule lives here:

- task and model strings in canonical form (parameters at their default dropped, the rest sorted), lengths
  sorted and without repeats, so one cell has one key, one run folder and one `task` string whatever the
  spelling;
- every pre-flight check: names, ranges (from the declarations in bench/settings.py), conflicts (a single
  value with its list form, an option that does nothing for the chosen models or device), paths, and,
  once the executor is known, memory and the run name;
- the run folder's name, derived from the canonical sweep.

Bad input raises PlanError (a ValueError) with one line and the option it concerns; the CLI turns it into
exit code 2, the API lets it through. Nothing is written before the plan is complete.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from bench import settings

MAX_LENGTH = 10_000_000
MAX_SEED = 2**31 - 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
HORIZON_SEEDS = 3  # a horizon needs seeds: "at least half of them solved"
# a single value and the list that sweeps it; --params picks the width, so it replaces both width options
CONFLICTS = (("hidden", "hiddens"), ("lr", "lrs"), ("batch_size", "batch_sizes"), ("params", "hidden"),
             ("params", "hiddens"), ("seeds", "n_seeds"))
FLAGS = {"hiddens": "--hiddens", "lrs": "--lrs", "batch_sizes": "--batch-sizes", "params": "--params",
         "seeds": "--seeds", "n_seeds": "--n-seeds", **{s.name: s.flag.split("/")[0] for s in settings.ALL}}


class PlanError(ValueError):
    """Bad input: one line, and the option it concerns (for the CLI's exit code 2)."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class UnknownName(PlanError, LookupError):
    """A task or model that is not registered (the message names close matches)."""


class UnknownSetting(PlanError, TypeError):
    """A training setting that is not declared in bench/settings.py."""


@dataclass
class Request:
    """What was asked for. None means "not given": the declared default applies, and a conflict is only a
    conflict between values that were both given."""

    tasks: Sequence[str]
    lengths: Sequence[int]
    models: Sequence[str] = ("rnn", "lstm", "gru")
    seeds: Sequence[int] | None = None
    n_seeds: int | None = None
    hiddens: Sequence[int] | None = None
    lrs: Sequence[float] | None = None
    batch_sizes: Sequence[int] | None = None
    params: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # given settings of bench/settings.py, by name
    device: str = "cpu"  # auto | cpu | cuda | cuda:N
    threads: int = 1
    jobs: int | None = None
    executor: str = "local"
    cells_per_gpu: int = 1
    ray: dict[str, Any] = field(default_factory=dict)  # ray_address, cpus_per_cell, gpus_per_cell (given ones)
    out: str | Path = "results"
    name: str | None = None
    kind: str = "grid"  # grid | horizon
    checkpoint_every: float = 60.0  # seconds between a running cell's checkpoints (bench.checkpoint); 0: never


@dataclass
class Plan:
    """A checked, canonical sweep and where it goes."""

    sweep: Any  # bench.sweep.Sweep
    root: Path
    name: str
    request: Request
    warnings: list[str] = field(default_factory=list)

    def executor(self) -> Any:
        """The executor that runs the plan's cells, after checking that a cell fits in memory at the
        concurrency it gives (PlanError otherwise)."""
        from bench.executors import make_executor
        from bench.runner import SweepTooLarge, check_fits

        request, sweep = self.request, self.sweep
        executor = make_executor(request.executor, sweep.device, sweep.threads, request.jobs, request.cells_per_gpu,
                                 request.ray.get("ray_address"), request.ray.get("cpus_per_cell"),
                                 request.ray.get("gpus_per_cell"))
        try:
            check_fits(sweep, getattr(executor, "jobs", 1))
        except SweepTooLarge as error:
            raise PlanError(str(error)) from None
        return executor

    def check_name_free(self, force: bool = False) -> None:
        """bench.runner.NameTaken when the run name is taken by another sweep (or kind of run), unless
        `force`: checked before anything is written, with --dry-run too."""
        from bench.runner import check_name_free
        from bench.search import HORIZON_KIND
        from bench.store import Store

        if not force:
            check_name_free(Store(self.root), self.name, self.sweep,
                            HORIZON_KIND if self.request.kind == "horizon" else None)


def make_plan(request: Request) -> Plan:
    """Check `request` and turn it into a canonical plan; PlanError (one line) for anything wrong."""
    from bench.sweep import ModelConfig, Sweep, TrainConfig

    given = _given(request)
    _refuse_conflicts(given)
    task_names = canonical_tasks(request.tasks)
    lengths = checked_lengths(request.lengths, task_names, "--lengths")
    model_names = canonical_models(request.models)
    values = {name: _checked_setting(name, value) for name, value in request.settings.items()}
    if "eval_lengths" in values:
        values["eval_lengths"] = checked_lengths(values["eval_lengths"], task_names, "--eval-lengths", empty_ok=True)
    model_config = ModelConfig(**{s.name: values[s.name] for s in settings.MODEL if s.name in values})
    train = TrainConfig(**{s.name: values[s.name] for s in settings.TRAIN if s.name in values})
    _check_name_form(request.name)
    root = writable_root(request.out)
    device = resolve_device(request.device)  # the first check that asks torch: every cheaper one is done
    sweep = Sweep(task_names, lengths, model_names, _seeds(request), model_config, train, device, request.threads,
                  hiddens=_sorted(request.hiddens), lrs=_sorted(request.lrs), batch_sizes=_sorted(request.batch_sizes),
                  params=request.params or 0)
    _check_device_settings(sweep)
    _check_widths(sweep)
    _check_executor(request, device)
    if not (isinstance(request.checkpoint_every, (int, float)) and 0 <= request.checkpoint_every <= 10**7):
        raise PlanError(f"--checkpoint-every {request.checkpoint_every!r} is not a number of seconds in 0..10^7",
                        "--checkpoint-every")
    name = request.name or (sweep.default_name() if request.kind == "grid" else f"horizon-{sweep.default_name()}")
    return Plan(sweep, root, name, request, _warnings(request, sweep))


def _given(request: Request) -> dict[str, Any]:
    fields = {"hiddens": request.hiddens, "lrs": request.lrs, "batch_sizes": request.batch_sizes,
              "params": request.params, "seeds": request.seeds, "n_seeds": request.n_seeds, **request.settings}
    return {name: value for name, value in fields.items() if value is not None}


def _refuse_conflicts(given: dict[str, Any]) -> None:
    for one, other in CONFLICTS:
        if one in given and other in given:
            raise PlanError(f"give {FLAGS[one]} or {FLAGS[other]}, not both ({_why(one, other)})", FLAGS[other])


def _why(one: str, other: str) -> str:
    if one == "params":
        return "--params picks each model's width"
    if one == "seeds":
        return "--seeds is a list of seed numbers, --n-seeds K means seeds 0..K-1"
    return f"{FLAGS[other]} sweeps what {FLAGS[one]} sets once"


def canonical_tasks(names: Sequence[str]) -> tuple[str, ...]:
    """Each task string in its one spelling (defaults left out), without repeats, in the order given."""
    import longdep_tasks as tasks

    return _canonical(names, lambda name: tasks.get(name).variant, "task", "--task")


def canonical_models(names: Sequence[str]) -> tuple[str, ...]:
    """Each model string in its one spelling, without repeats, in the order given."""
    from bench import models

    return _canonical(names, models.canonical, "model", "--models")


def _canonical(names: Sequence[str], spell: Any, kind: str, option: str) -> tuple[str, ...]:
    """`spell` applied to each name (bench.registry's errors become one line naming `option`)."""
    from bench.registry import UnknownNameError, VariantError

    if isinstance(names, str) or not names:
        raise PlanError(f"give the {kind}s as a non-empty list of {kind} strings", option)
    canonical = []
    for name in names:
        try:
            canonical.append(spell(str(name).strip()))
        except UnknownNameError as error:
            raise UnknownName(str(error), option) from None
        except VariantError as error:
            raise PlanError(str(error), option) from None
    return tuple(dict.fromkeys(canonical))


def checked_lengths(lengths: Sequence[int], task_names: Sequence[str], option: str,
                    empty_ok: bool = False) -> tuple[int, ...]:
    """Sorted, without repeats, each a whole number from every task's minimum up to MAX_LENGTH."""
    import longdep_tasks as tasks

    values = _whole_numbers(lengths, option)
    if not values and not empty_ok:
        raise PlanError("give at least one length", option)
    for value in values:
        if not 1 <= value <= MAX_LENGTH:
            raise PlanError(f"length {value} is outside 1..{MAX_LENGTH:,}", option)
    for name in task_names:
        low = tasks.get(name).min_length
        if values and values[0] < low:
            raise PlanError(f"task {name} needs lengths of at least {low}", option)
    return values


def _whole_numbers(values: Sequence[int], option: str) -> tuple[int, ...]:
    if isinstance(values, (str, int)) or any(isinstance(v, bool) or int(v) != v for v in values):
        raise PlanError(f"{values!r} is not a list of whole numbers", option)
    return tuple(sorted({int(v) for v in values}))


def _sorted(values: Sequence[Any] | None) -> tuple[Any, ...]:
    return tuple(sorted(set(values))) if values else ()


def _checked_setting(name: str, value: Any) -> Any:
    """`value` for declared setting `name`, within its declared type and range."""
    declared = settings.BY_NAME.get(name)
    if declared is None:
        raise UnknownSetting(f"unknown setting {name!r} (settings: {', '.join(settings.BY_NAME)})")
    if declared.kind == "lengths":
        return tuple(value)
    if declared.kind == "choice":
        if value not in declared.choices:
            raise PlanError(f"{declared.flag} {value!r} is not one of {', '.join(declared.choices)}", declared.flag)
        return value
    if declared.kind == "flag":
        if not isinstance(value, bool):
            raise PlanError(f"{name} must be true or false, not {value!r}", declared.flag.split("/")[0])
        return value
    return _number_in_range(declared, value)


def _number_in_range(declared: settings.Setting, value: Any) -> float | int:
    import math

    wanted = int if declared.kind == "int" else float
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (wanted is int and int(value) != value):
        raise PlanError(f"{declared.flag} {value!r} is not a {'whole ' if wanted is int else ''}number", declared.flag)
    number = wanted(value)
    low_ok = number > declared.low if declared.low_open else number >= declared.low
    if not math.isfinite(number) or not low_ok or number > declared.high:
        bracket = "(" if declared.low_open else "["
        raise PlanError(f"{declared.flag} {value!r} is outside {bracket}{declared.low:g}, {declared.high:g}]",
                        declared.flag)
    return number


def _seeds(request: Request) -> tuple[int, ...]:
    if request.seeds is not None:
        seeds = _whole_numbers(request.seeds, "--seeds")
        if not seeds or not all(0 <= s <= MAX_SEED for s in seeds):
            raise PlanError(f"seeds must be a non-empty list of numbers in 0..{MAX_SEED}", "--seeds")
        return seeds
    count = request.n_seeds if request.n_seeds is not None else HORIZON_SEEDS if request.kind == "horizon" else 1
    if not 1 <= count <= 10_000:
        raise PlanError(f"--n-seeds {count} is outside 1..10000", "--n-seeds")
    return tuple(range(count))


def device_form(value: str) -> str:
    """auto | cpu | cuda | cuda:N, checked for form only (asking torch what exists comes last)."""
    value = str(value).strip().lower()
    if value not in ("auto", "cpu") and not re.fullmatch(r"cuda(?::\d+)?", value):
        raise PlanError(f"{value!r} is not one of auto, cpu, cuda, cuda:N", "--device")
    return value


def resolve_device(value: str) -> str:
    """The concrete device `value` names on this machine ('auto' -> cuda or cpu)."""
    value = device_form(value)
    if value == "cpu":
        return value
    import torch

    if value == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise PlanError(f"{value} was asked for but no CUDA GPU is visible to PyTorch", "--device")
    index = value.partition(":")[2]
    if index and int(index) >= torch.cuda.device_count():
        raise PlanError(f"{value}: only {torch.cuda.device_count()} GPU(s) are visible", "--device")
    return value


def _check_device_settings(sweep: Any) -> None:
    """Options that would do nothing here are refused, not silently ignored."""
    from bench import models

    train = sweep.train
    if train.amp != "none" and not sweep.device.startswith("cuda"):
        raise PlanError(f"--amp {train.amp} needs a CUDA device (on {sweep.device}, oneDNN has no bf16 LSTM kernel "
                        "on most CPUs, and small recurrences gain nothing)", "--amp")
    if train.compile and not any(models.compiles(model) for model in sweep.models):
        compiled = [name for name in models.registry.names() if models.compiles(name)]
        raise PlanError(f"--compile does nothing for {', '.join(sweep.models)} (it applies to {', '.join(compiled)}; "
                        "the recurrences already run fused kernels)", "--compile")


def _check_widths(sweep: Any) -> None:
    """Resolve --params now, so a count no width reaches is bad input, not a failed run; and a model
    parameter that needs more units than the width has."""
    from bench import models

    try:
        for task in sweep.tasks:
            for model in sweep.models:
                for width in sweep.widths(task, model):
                    _check_blocks(model, width, models.parameters(model))
    except models.ParamsTooSmall as error:
        raise PlanError(str(error), "--params") from None


def _check_blocks(model: str, width: int, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, tuple) and len(value) > width:
            raise PlanError(f"model {model}: {key} gives {len(value)} blocks but the width is {width}", "--models")


def _check_executor(request: Request, device: str) -> None:
    given = {key: value for key, value in request.ray.items() if value is not None}
    if given and request.executor != "ray":
        flag = "--" + next(iter(given)).replace("_", "-")
        raise PlanError(f"{flag} applies only with --executor ray", flag)
    if request.jobs is not None and request.executor == "ray":
        raise PlanError("--jobs applies to the local executor; Ray runs as many cells at once as the cluster's "
                        "resources allow (--cpus-per-cell, --gpus-per-cell)", "--jobs")
    if request.cells_per_gpu != 1 and not device.startswith("cuda"):
        raise PlanError(f"--cells-per-gpu applies only on a GPU, not on device {device}", "--cells-per-gpu")


def _check_name_form(name: str | None) -> None:
    if name is not None and not NAME_PATTERN.match(name):
        raise PlanError(f"{name!r}: use letters, digits, '.', '_', '+' and '-'", "--name")


def writable_root(value: str | Path) -> Path:
    """The output root, if it is (or can be created as) a writable folder; nothing is created here."""
    path = Path(value).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise PlanError(f"{path} exists and is not a folder", "--out")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK) or not can_create_in(probe):
        raise PlanError(f"{path} cannot be written (no folder can be made in {probe})", "--out")
    return path


def can_create_in(folder: Path) -> bool:
    """Whether a folder can really be made in `folder` (tried and removed: os.access says yes to root
    everywhere, /proc included)."""
    import tempfile

    try:
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".bench-probe-"))
        return True
    except OSError:
        return False


def _warnings(request: Request, sweep: Any) -> list[str]:
    """What a user may mean but should hear about: more torch threads than cores."""
    from bench.provenance import usable_cores

    if request.executor != "local" or sweep.device.startswith("cuda"):
        return []
    cores = usable_cores()
    jobs = request.jobs or max(1, cores // sweep.threads)
    if jobs * sweep.threads > cores:
        return [f"--jobs {jobs} x --threads {sweep.threads} asks for {jobs * sweep.threads} threads on {cores} "
                "core(s): cells will compete for the cores and each will run slower"]
    return []
