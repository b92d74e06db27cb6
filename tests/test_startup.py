"""Listing, help and bad input start fast: they import neither torch nor numba (nor pandas), which cost
seconds on a busy machine. benchmarks/startup.py measures the time; this holds the imports."""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "numba", "pandas", "matplotlib")
PROBE = """
import json, sys
from bench.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [name for name in %r if name in sys.modules]}))
""" % (HEAVY,)


def loaded_by(*args: str, cwd=None) -> tuple[int, list[str]]:
    """(exit code, heavy modules imported) of `bench ARGS` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["loaded"]


@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], ["tasks"], ["tasks", "--json"], ["models"], ["run", "--help"], ["probe", "--help"],
    ["run", "--task", "addin", "--lengths", "50"],                        # unknown task
    ["run", "--task", "adding", "--lengths", "50,x"],                     # malformed list
    ["run", "--task", "adding", "--lengths", "1"],                        # below the task's minimum
    ["run", "--task", "adding", "--lengths", "50", "--models", "lstn"],    # unknown model
    ["run", "--task", "adding", "--lengths", "50", "--device", "tpu"],    # unknown device
    ["run", "--task", "adding:markers=nowhere", "--lengths", "50"],       # bad task parameter
    ["run", "--task", "adding", "--lengths", "50", "--name", "a/b"],      # bad run name
    ["probe", "--task", "adding", "--length", "1"],
    ["horizon", "--task", "adding", "--max-length", "5"],               # below the shortest length tried
    ["show", "nosuch"], ["check", "nosuch"], ["report", "/nonexistent"],
])
def test_help_listing_and_bad_input_import_no_heavy_library(args):
    code, loaded = loaded_by(*args)
    assert code in (0, 2, None), code
    assert loaded == [], f"bench {' '.join(args)} imported {loaded}"


def test_show_generates_with_numba_but_imports_no_torch():
    code, loaded = loaded_by("show", "adding", "--length", "10")
    assert code in (0, None)
    assert loaded == ["numba"]


@pytest.mark.slow
def test_a_run_does_import_torch_the_probe_is_not_vacuous(tmp_path):
    code, loaded = loaded_by("run", "--task", "adding", "--lengths", "10", "--models", "rnn", "--steps", "1",
                             "--eval-size", "8", "--jobs", "1", "--out", str(tmp_path), "--no-progress")
    assert code in (0, None)
    assert "torch" in loaded and "numba" in loaded


@pytest.mark.slow
def test_a_tasks_py_in_the_working_directory_changes_nothing(tmp_path):
    """The task package is imported as `longdep_tasks`, so a user's own tasks.py beside their notebook or
    script is neither run by bench nor replaced by ours."""
    marker = tmp_path / "imported"
    (tmp_path / "tasks.py").write_text(f"open({str(marker)!r}, 'w').close()\nMINE = True\n")
    listed = subprocess.run([sys.executable, "-m", "bench", "tasks", "--json"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "adding" in {task["name"] for task in json.loads(listed.stdout)}
    script = "import bench.cli, bench.api, longdep_tasks; longdep_tasks.discover(); import tasks; print(tasks.MINE)"
    mixed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert mixed.returncode == 0, mixed.stderr
    assert mixed.stdout.strip() == "True"  # the user's own module, untouched by ours
    marker.unlink()
    planned = subprocess.run([sys.executable, "-m", "bench", "run", "--task", "adding", "--lengths", "5", "--models",
                              "rnn", "--steps", "1", "--dry-run", "--out", str(tmp_path / "results")],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert not marker.exists()
