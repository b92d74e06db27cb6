"""Bad input, tried systematically: hypothesis drives `bench run` with malformed values for every option.
Each must end with exit code 2, one line on stderr, no traceback, and nothing written."""

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import longdep_tasks as tasks
from bench import models
from bench.cli import cli
from bench.plan import MAX_LENGTH, NAME_PATTERN

VALID = ["--task", "adding", "--lengths", "5", "--models", "rnn", "--steps", "2", "--no-progress"]
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parses(convert, text: str) -> bool:
    try:
        convert(text)
        return True
    except ValueError:
        return False


def _is_int(text: str) -> bool:
    return _parses(int, text)


def _is_float(text: str) -> bool:
    return _parses(float, text)


def not_an_int() -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=12), st.floats(allow_nan=True).map(repr)).filter(lambda t: not _is_int(t))


def bad_int(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(max_value=low - 1).map(str), st.integers(min_value=high + 1).map(str), not_an_int())


def bad_float(low: float, high: float, low_open: bool = False) -> st.SearchStrategy[str]:
    too_low = st.floats(max_value=low, exclude_max=not low_open, allow_nan=False)
    return st.one_of(too_low.map(repr), st.floats(min_value=high, exclude_min=True).map(repr),
                     st.sampled_from(["nan", "inf", "-inf", "NaN"]),
                     st.text(max_size=10).filter(lambda t: not _is_float(t)))


def bad_int_list(low: int, high: int) -> st.SearchStrategy[str]:
    good = st.integers(low, high).map(str)
    return st.tuples(st.lists(good, max_size=3), bad_int(low, high), st.lists(good, max_size=3)).map(
        lambda parts: ",".join([*parts[0], parts[1], *parts[2]]))


def bad_names(known: list[str]) -> st.SearchStrategy[str]:
    unknown = st.text(max_size=12).filter(lambda t: t.strip() not in known)
    return st.tuples(st.lists(st.sampled_from(known), max_size=2), unknown).map(lambda p: ",".join([*p[0], p[1]]))


def bad_task_strings() -> st.SearchStrategy[str]:
    """NAME:... strings whose parameters do not parse, or name keys or values the task does not declare."""
    def valid(text: str) -> bool:
        try:
            return all(tasks.get(item) for item in tasks.split_task_list(text))
        except (LookupError, ValueError):
            return False

    keys = st.sampled_from(["markers", "form", "n_copy", "delimiter", "values", "foo", "", "markers=x"])
    values = st.one_of(st.text(max_size=8), st.sampled_from(["anywhere", "hs1997", "0", "-1", "99999999", "repeat"]))
    pairs = st.lists(st.tuples(keys, st.sampled_from(["=", "", "=="]), values).map("".join), min_size=0, max_size=3)
    return st.tuples(st.sampled_from(tasks.names()), pairs).map(
        lambda p: f"{p[0]}:{','.join(p[1])}").filter(lambda t: not valid(t))


def bad_device() -> st.SearchStrategy[str]:
    import torch

    def valid(text: str) -> bool:
        text = text.strip().lower()
        gpu = re.fullmatch(r"cuda(?::(\d+))?", text)
        return text in ("auto", "cpu") or (gpu is not None and torch.cuda.is_available()
                                           and int(gpu.group(1) or 0) < torch.cuda.device_count())

    return st.one_of(st.text(max_size=10), st.sampled_from(["cuda", "cuda:0", "cuda:7", "gpu", "CPU:0"])).filter(
        lambda t: not valid(t))


OPTIONS = {
    "--task": st.one_of(bad_names(tasks.names()), bad_task_strings()),
    "--stop": st.text(max_size=8).filter(lambda t: t not in ("solved", "budget")),
    "--models": bad_names(models.registry.names()),
    "--lengths": bad_int_list(1, MAX_LENGTH),
    "--seeds": bad_int_list(0, 2**31 - 1),
    "--steps": bad_int(1, 10**8),
    "--batch-size": bad_int(1, 65536),
    "--hidden": bad_int(1, 65536),
    "--layers": bad_int(1, 64),
    "--eval-every": bad_int(1, 10**8),
    "--eval-size": bad_int(1, 10**6),
    "--jobs": bad_int(1, 4096),
    "--threads": bad_int(1, 1024),
    "--cells-per-gpu": bad_int(1, 256),
    "--lr": bad_float(0, 1e6, low_open=True),
    "--clip": bad_float(0, 1e9),
    "--time-limit": bad_float(0, 1e7),
    "--cpus-per-cell": bad_float(0, 1024, low_open=True),
    "--gpus-per-cell": bad_float(0, 64),
    "--device": bad_device(),
    "--executor": st.text(max_size=8).filter(lambda t: t not in ("local", "ray")),
    "--name": st.text(min_size=1, max_size=12).filter(lambda t: not NAME_PATTERN.match(t)),
}


def _refused(args: list[str], out: Path) -> None:
    """The command must exit 2 with one `bench: error:` line, no traceback, and leave `out` unmade."""
    result = CliRunner().invoke(cli, [*args, "--out", str(out)], catch_exceptions=True)
    stderr = result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, (args, result.exit_code, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: "), (args, stderr)
    assert "Traceback" not in stderr + result.stdout
    assert not out.exists(), f"{args} wrote {out}"


@pytest.fixture
def scratch():
    folder = Path(tempfile.mkdtemp())
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_every_option_refuses_malformed_values_cleanly(option, scratch):
    @EXAMPLES
    @given(value=OPTIONS[option])
    def check(value):
        args = [*VALID]
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
        _refused(["run", *args], scratch / "out")

    check()


CONFIG_KEYS = sorted({flag.lstrip("-") for p in cli.commands["run"].params for flag in p.opts}
                     - {"config", "plugin", "help"})


@pytest.mark.parametrize("make", ["unknown key", "mistyped value", "not toml", "missing file", "a folder"])
def test_config_files_with_bad_content_or_paths_are_refused(make, scratch):
    @EXAMPLES
    @given(key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=10),
           value=st.sampled_from(['"many"', "-3", "nan", "[1, \"x\"]", "true", '"0,,0"', "1e99"]))
    def check(key, value):
        config = scratch / "sweep.toml"
        if make == "unknown key":
            if key in CONFIG_KEYS or key.replace("_", "-") in CONFIG_KEYS:
                return
            config.write_text(f'task = "adding"\nlengths = [5]\n{key} = 1\n')
        elif make == "mistyped value":
            setting = ["steps", "lr", "lengths", "seeds", "hidden", "jobs", "device", "models"][len(key) % 8]
            if setting == "models" and value == "true":  # the string 'True' is simply an unknown model
                value = '"nosuch"'
            config.write_text(f'task = "adding"\nlengths = [5]\n{setting} = {value}\n')
        elif make == "not toml":
            config.write_text(f"task = adding {key}\n[[\n")
        elif make == "a folder":
            config = scratch
        else:
            config = scratch / f"missing-{key}.toml"
        _refused(["run", "--config", str(config)], scratch / f"out-{make}-{key}-{value}")

    check()


@pytest.mark.parametrize("where", ["under a file", "the file itself"])
def test_output_folder_that_cannot_exist_is_refused(where, scratch):
    blocker = scratch / "file.txt"
    blocker.write_text("x")
    out = blocker / "results" if where == "under a file" else blocker
    result = CliRunner().invoke(cli, ["run", *VALID, "--out", str(out)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert blocker.read_text() == "x"  # the file is left as it was


@pytest.mark.parametrize("content", [None, "raise RuntimeError('plugin broke')\n", "this is not python(\n"])
def test_unloadable_plugins_are_refused(content, scratch):
    plugin = scratch / "plugin.py"
    if content is not None:
        plugin.write_text(content)
    _refused(["run", "--plugin", str(plugin), *VALID], scratch / "out")


PROBE = ["probe", "--task", "adding", "--length", "20", "--hidden", "4", "--out", "OUT"]  # OUT: under scratch
OTHER_COMMANDS = {
    "show --length": (["show", "copy", "--length"], bad_int(1, 10_000)),
    "show --seed": (["show", "copy", "--seed"], bad_int(0, 2**31 - 1)),
    "show TASK": (["show"], st.one_of(bad_names(tasks.names()).filter(lambda t: "," not in t), bad_task_strings())),
    "check --lengths": (["check", "copy", "--lengths"], bad_int_list(1, 100_000)),
    "check NAME": (["check"], st.text(min_size=1, max_size=12).filter(
        lambda t: t not in tasks.names() and t not in models.registry and not t.startswith("-"))),
    "compare --fail-on": (["compare", "RUN", "RUN", "--fail-on"], st.one_of(
        st.text(max_size=12), st.floats(min_value=0, exclude_min=True).map(lambda v: f"accuracy:{v!r}"),
        st.sampled_from(["accuracy:", "loss:-0.1", "accuracy:nan", "accuracy:-inf"]))),
    "report RUN": (["report"], st.sampled_from(["nowhere", "FILE", "EMPTY"])),
    "probe --checkpoints": (PROBE + ["--checkpoints"], bad_int(1, 1000)),
    "probe --length": (["probe", "--task", "adding", "--out", "OUT", "--length"], st.one_of(bad_int(1, MAX_LENGTH), st.just("1"))),
    "probe --models": (PROBE + ["--models"], st.one_of(
        bad_names([*models.registry.names(), "all"]),
        st.sampled_from(["transformer", "rnn,lru"]))),
    "probe --init-radius": (PROBE + ["--init-radius"], bad_float(0, 1e6, low_open=True)),
}


@pytest.mark.parametrize("command", sorted(OTHER_COMMANDS))
def test_the_other_commands_refuse_malformed_values_cleanly(command, scratch):
    (scratch / "FILE").write_text("x")
    (scratch / "EMPTY").mkdir()
    run = scratch / "results" / "runs" / "r"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"name": "r", "cells": []}')
    prefix, values = OTHER_COMMANDS[command]

    @EXAMPLES
    @given(value=values)
    def check(value):
        value = str(scratch / value) if command == "report RUN" else value
        args = [{"RUN": str(run), "OUT": str(scratch / "out")}.get(part, part) for part in prefix]
        before = sorted(p for p in scratch.rglob("*"))
        result = CliRunner().invoke(cli, [*args, value], catch_exceptions=True)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == 2, (args, value, result.exit_code, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bench: error: "), result.stderr
        assert sorted(p for p in scratch.rglob("*")) == before  # nothing written

    check()


def test_a_config_whose_run_key_is_not_a_table_is_refused(scratch):
    config = scratch / "sweep.toml"
    config.write_text('task = "adding"\nlengths = [5]\nrun = 1\n')  # found by hypothesis in CI: a traceback
    _refused(["run", "--config", str(config)], scratch / "out")
