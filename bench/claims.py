"""Cell claims: a run computes a cell only while it holds that cell's lock, so two runs sharing a
results folder never compute the same cell at once, and a cell stored by one is reused by the other.

The lock is flock(2) on `cells/ab/.KEY.lock`: the kernel drops it when its holder dies, even by
SIGKILL, so a crashed run never leaves a cell claimed. Only the driver process takes claims (workers
and Ray tasks never write), and the files are not inherited by worker processes. Like every flock,
it holds between processes of one machine or of one local file system, not across NFS clients.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from typing import Iterator

from bench.store import Store

STALE_SECONDS = 600  # a temporary file this old belongs to no write in progress: a killed writer left it


class Claims:
    """The cell locks one run holds; all are released on exit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.held: dict[str, int] = {}

    def __enter__(self) -> "Claims":
        return self

    def __exit__(self, *exc: object) -> None:
        for key in list(self.held):
            self.release(key)

    def claim(self, key: str, wait: bool = False) -> bool:
        """Take `key`'s lock (waiting for another run to let go when `wait`); False if it is taken."""
        path = self.store.cell_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(lock_path(self.store, key), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return False
        self.held[key] = handle
        remove_temporaries(path.parent, f".{path.name}.", 0)  # nobody else writes this cell now
        return True

    def release(self, key: str) -> None:
        os.close(self.held.pop(key))  # closing the descriptor drops the lock


@contextlib.contextmanager
def run_in_progress(store: Store) -> Iterator[None]:
    """Held, shared, for a run's whole life (from its first look at the store to its report), so that
    `bench gc` never deletes a stored cell a starting run is about to reuse. It waits only while a gc
    holds the lock (a gc takes seconds)."""
    with file_lock(store.root / ".runs.lock", fcntl.LOCK_SH):
        yield


@contextlib.contextmanager
def no_run_in_progress(store: Store) -> Iterator[bool]:
    """Held, exclusive, by `bench gc`: yields False at once (and holds nothing) when a run is in progress;
    while it is held, a run that starts waits for it."""
    with file_lock(store.root / ".runs.lock", fcntl.LOCK_EX | fcntl.LOCK_NB) as held:
        yield held


@contextlib.contextmanager
def file_lock(path: Path, operation: int = fcntl.LOCK_EX) -> Iterator[bool]:
    """flock(2) on `path` (created with its folder): yields True while held, or False at once when
    `operation` has LOCK_NB and another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(handle, operation)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(handle)  # closing the descriptor drops the lock


def lock_path(store: Store, key: str) -> Path:
    """The file whose flock claims cell `key`."""
    return store.cell_path(key).with_name(f".{key}.lock")


def remove_temporaries(folder: Path, prefix: str = ".", older_than: float = STALE_SECONDS) -> int:
    """Delete `prefix*.tmp` files in `folder` older than `older_than` seconds (atomic writes cut short
    by a kill); returns how many."""
    removed, now = 0, time.time()
    for path in folder.glob(f"{prefix}*.tmp"):
        try:
            if now - path.stat().st_mtime >= older_than:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # its writer finished (renamed it) meanwhile
            pass
    return removed
