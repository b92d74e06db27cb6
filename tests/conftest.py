"""Shared helpers: tests write only under tmp_path and run on the CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import cli

TINY_RUN = ["--jobs", "1", "--steps", "40", "--eval-every", "20", "--eval-size", "64", "--hidden", "16", "--batch-size", "16",
            "--no-progress"]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def bench_cli():
    """Run `bench ARGS...` in-process and return its exit code, stdout and stderr."""

    def invoke(*args: str) -> CliResult:
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke


def files_under(path: Path) -> list[Path]:
    """Every file below `path` (an empty list when it does not exist)."""
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def require_ray():
    """Import ray; skip when it is missing, except in CI, which installs the ray extra (a failure there)."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("ray is not installed (pip install -e '.[ray]')")
    return ray


@pytest.fixture(autouse=True, scope="session")
def _cost_cache(tmp_path_factory):
    """The cost model's timings go to a cache of this test session (subprocesses inherit it), not the
    user's ~/.cache."""
    os.environ["BENCH_CACHE"] = str(tmp_path_factory.mktemp("cost-cache"))
    yield
