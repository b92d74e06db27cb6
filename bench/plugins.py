"""Plug-ins from outside the repository: `bench run --plugin path/to/file.py`.

A plug-in file is ordinary Python that registers tasks (`tasks.register(Task(...))`) or models
(`@register_model(...)`) when imported, exactly like a module in `tasks/`. The driver imports it once;
worker processes and Ray tasks are handed the same source (path, text and checksum) and import it before
training, so a cell never runs against a different version of the file than the one the driver checked.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from bench.registry import PluginError, registering_from
from bench.store import atomic_write

_loaded: dict[str, "PluginFile"] = {}  # sha256 of the source -> the file it came from


@dataclass(frozen=True)
class PluginFile:
    """One plug-in file as the driver loaded it."""

    path: str
    sha256: str
    source: str

    def describe(self) -> dict[str, str]:
        """What a run's manifest records of it."""
        return {"path": self.path, "sha256": self.sha256}


def load_plugin(path: str | Path) -> PluginFile:
    """Import a plug-in file (once per content); PluginError says what went wrong, in one line."""
    import longdep_tasks as tasks
    from bench import models

    tasks.discover()  # the built-in names first, so a clash is reported against the plug-in
    models.registry.discover()
    resolved = Path(path).expanduser().resolve()
    try:
        source = resolved.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise PluginError(f"cannot read plug-in {path}: {getattr(error, 'strerror', None) or error}") from None
    plugin = PluginFile(str(resolved), hashlib.sha256(source.encode()).hexdigest(), source)
    if plugin.sha256 not in _loaded:
        _import_file(resolved, plugin)
        for sha, older in list(_loaded.items()):  # an edited file replaces its older version
            if older.path == plugin.path:
                del _loaded[sha]
        _loaded[plugin.sha256] = plugin
    return plugin


def loaded_plugins() -> list[PluginFile]:
    """The plug-in files this process loaded, in order."""
    return list(_loaded.values())


def ensure_plugins(plugins: Sequence[PluginFile]) -> None:
    """In a worker: import the driver's plug-ins, from their own path where it holds the same source
    (same machine), else from a copy of the source (a Ray node without the file)."""
    for plugin in plugins:
        if plugin.sha256 in _loaded:
            continue
        path = Path(plugin.path)
        if not (path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == plugin.sha256):
            path = _copy_of(plugin)
        _import_file(path, plugin)
        _loaded[plugin.sha256] = plugin


def _copy_of(plugin: PluginFile) -> Path:
    folder = Path(tempfile.gettempdir()) / "bench-plugins"
    folder.mkdir(exist_ok=True)
    path = folder / f"{Path(plugin.path).stem}-{plugin.sha256[:16]}.py"
    if not path.exists():
        atomic_write(path, plugin.source.encode())
    return path


def _import_file(path: Path, plugin: PluginFile) -> None:
    name = f"bench_plugin_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{plugin.sha256[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plug-in {plugin.path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling look modules up by name
    try:
        with registering_from(plugin.path, plugin.sha256):
            spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        line = _line_in(error, path)
        raise PluginError(f"plug-in {plugin.path} failed to load{line}: {type(error).__name__}: {error}") from None


def _line_in(error: BaseException, path: Path) -> str:
    """' (line N)' for the deepest frame of the traceback that is in the plug-in file itself."""
    lines = [frame.tb_lineno for frame in _frames(error.__traceback__) if frame.tb_frame.f_code.co_filename == str(path)]
    return f" (line {lines[-1]})" if lines else ""


def _frames(trace):
    while trace is not None:
        yield trace
        trace = trace.tb_next
