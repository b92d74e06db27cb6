"""Mid-cell checkpoints: a running cell's whole training state, saved at a fixed interval of wall time, so
that an interrupted cell (Ctrl-C, SIGTERM, SIGHUP, SIGKILL, a power cut, a preempted GPU or a Ray node
that leaves) continues where it stopped instead of starting over.

A checkpoint lives beside its cell's claim, `cells/ab/.KEY.ckpt`, written atomically (temporary file,
fsync, rename) as a magic header, the sha256 of the payload and the payload (`torch.save` of plain data
and tensors, read back with `weights_only=True`). It names the cell key and a format version: a
checkpoint of another key or version is discarded with a note, a corrupt one (checksum) is detected and
the cell starts over with a note. The runner deletes a cell's checkpoint once the cell is stored;
`bench gc` removes checkpoints whose cell is stored or whose run is gone.

What resuming restores (the loop in bench.train decides what goes in): model and optimiser state, every
RNG state, the training stream's position (a batch is a pure function of its step), the solve-rule window,
the learning curve, gradient norms and every counter, and the elapsed time. Resumed once or several times,
a cell ends with the numbers of a cell that was never stopped (bit-identical on CPU; tests/test_checkpoint.py).
"""

from __future__ import annotations

import hashlib
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when what a checkpoint holds changes
MAGIC = b"BENCHCKPT1\n"
DEFAULT_EVERY = 60.0  # seconds of wall time between checkpoints of one running cell
SUFFIX = ".ckpt"


def checkpoint_path(cells_dir: Path | str, key: str) -> Path:
    """Beside the cell's file and its claim: cells/ab/.KEY.ckpt."""
    return Path(cells_dir) / key[:2] / f".{key}{SUFFIX}"


@dataclass
class Checkpoints:
    """The checkpoints of one running cell: `every` seconds of wall time (0: never) into `path`."""

    path: Path | None
    key: str
    every: float = DEFAULT_EVERY

    def __post_init__(self) -> None:
        self.last = time.monotonic()

    @property
    def enabled(self) -> bool:
        return self.path is not None and self.every > 0

    def due(self) -> bool:
        return self.enabled and time.monotonic() - self.last >= self.every

    def save(self, state: dict[str, Any]) -> None:
        """Write `state` atomically; a failed write costs the checkpoint, never the cell."""
        import torch

        from bench.store import atomic_write

        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "key": self.key, "state": state}, buffer)
        payload = buffer.getvalue()
        try:
            atomic_write(self.path, MAGIC + hashlib.sha256(payload).digest() + payload)
        except OSError as error:
            note(f"cell {self.key}: checkpoint not written ({error.strerror or error}); training goes on")
        self.last = time.monotonic()

    def resume(self) -> dict[str, Any] | None:
        """The saved state to continue from, or None (no checkpoint, or one that is discarded with a note)."""
        if not self.enabled:
            return None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            note(f"cell {self.key}: checkpoint unreadable ({error.strerror or error}); starting over")
            return None
        return self._checked(data)

    def _checked(self, data: bytes) -> dict[str, Any] | None:
        import torch

        head, digest, payload = data[:len(MAGIC)], data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
        if head != MAGIC or hashlib.sha256(payload).digest() != digest:
            return self._discard("is corrupt (checksum)")
        try:
            saved = torch.load(io.BytesIO(payload), weights_only=True)
        except Exception as error:  # a payload that passed its checksum but does not load: other code wrote it
            return self._discard(f"does not load ({type(error).__name__})")
        if saved.get("format") != FORMAT or saved.get("key") != self.key:
            return self._discard("is from other code or settings")
        return saved["state"]

    def _discard(self, why: str) -> None:
        note(f"cell {self.key}: checkpoint {why}; discarded, the cell starts over")
        self.path.unlink(missing_ok=True)
        return None


def discard(cells_dir: Path | str, key: str) -> None:
    """Delete a cell's checkpoint (its cell is stored)."""
    checkpoint_path(cells_dir, key).unlink(missing_ok=True)


def note(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
