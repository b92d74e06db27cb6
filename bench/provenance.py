"""Where numbers came from: code version, libraries, machine. Stored beside results, never in keys."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "numba", "numpy", "pandas", "seaborn", "click")


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """Git commit of the harness, library versions, Python and machine."""
    return {
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }


# Instruction-set extensions that decide which CPU kernels (oneDNN, MKL, numba's LLVM) run, and so
# the last bits of a number.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx512_bf16", "amx_tile", "amx_bf16", "neon", "asimd", "sve")
# What a cell records of the machine and software that made it; reports and compare say when the cells
# they put side by side differ in any of these.
FINGERPRINT = ("cpu", "cpu_flags", "gpu", "torch", "numba", "numpy")


@functools.lru_cache(maxsize=1)
def machine() -> dict[str, Any]:
    """The CPU model and its instruction-set flags, and the numerical libraries' versions."""
    return {"cpu": _cpu_model(), "cpu_flags": " ".join(f for f in ISA_FLAGS if f in _cpu_flags()),
            **{name: _version(name) for name in ("torch", "numba", "numpy")}}


def _cpuinfo() -> dict[str, str]:
    try:
        with open("/proc/cpuinfo") as file:
            return dict(line.split(":", 1) for line in file.read().split("\n\n")[0].splitlines() if ":" in line)
    except OSError:
        return {}


def _cpu_model() -> str:
    info = {key.strip(): value.strip() for key, value in _cpuinfo().items()}
    return info.get("model name") or info.get("Model") or platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    info = {key.strip(): value.strip() for key, value in _cpuinfo().items()}
    return set((info.get("flags") or info.get("Features") or "").split())


def fingerprint(record: dict[str, Any]) -> dict[str, Any]:
    """The hardware and software a stored cell came from (see FINGERPRINT)."""
    provenance = record.get("provenance") or {}
    return {name: provenance.get(name) for name in FINGERPRINT}


def fingerprint_note(groups: dict[str, list[dict[str, Any]]]) -> str:
    """One line on where cells came from: `all cells: cpu X; torch 2.13 ...`, or, when the cells (within
    one run, or between the runs named by `groups`) differ in hardware or software, what differs."""
    seen = {label: [fingerprint(r) for r in records] for label, records in groups.items()}
    every = [f for prints in seen.values() for f in prints]
    if not every:
        return "no cells"
    differing = [name for name in FINGERPRINT if len({f[name] for f in every}) > 1]
    if not differing:
        same = every[0]
        return "all cells: " + "; ".join(f"{name} {same[name]}" for name in FINGERPRINT if same[name])
    parts = []
    for name in differing:
        values = {label: sorted({str(f[name]) for f in prints}) for label, prints in seen.items()}
        parts.append(f"{name}: " + "; ".join(f"{label} {' / '.join(v)}" if len(groups) > 1 else " / ".join(v)
                                            for label, v in values.items()))
    return "DIFFERENT hardware or software between the cells, numbers may differ in the last bits or more: " + "; ".join(parts)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """HEAD of the checkout the harness runs from, with `+dirty` when it has uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def argv() -> list[str]:
    """The command line as typed."""
    return [Path(sys.argv[0]).name, *sys.argv[1:]]


def usable_cores() -> int:
    """CPUs this process may run on (respects affinity masks and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
