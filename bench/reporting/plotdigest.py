"""What a run's plots were drawn from, readable without importing matplotlib: a run's tail asks whether
the plot files are current, and draws them only when they are not."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DIGEST_FILE = ".inputs.sha256"  # what the plots in the folder were drawn from
PLOTS_MODULE = Path(__file__).with_name("plots.py")


def inputs_digest(frame: pd.DataFrame, records: list[dict[str, Any]], summary: pd.DataFrame) -> str:
    """sha256 of everything a plot depends on: the tables, the records, the plotting code and the libraries."""
    from bench.store import canonical_json

    digest = hashlib.sha256(PLOTS_MODULE.read_bytes())
    digest.update(f"{metadata.version('matplotlib')} {metadata.version('seaborn')}".encode())
    for table in (frame, summary):
        digest.update(table.to_csv(index=False).encode())
    digest.update(canonical_json(sorted(records, key=lambda record: record["key"])))
    return digest.hexdigest()


def drawn_from(folder: Path) -> str | None:
    """The digest the folder's plots were drawn from, if every plot it lists is still there."""
    try:
        digest = (folder / DIGEST_FILE).read_text()
    except OSError:
        return None
    return digest if all((folder / f"{stem}.png").exists() for stem in ("accuracy_vs_length", "heatmap")) else None
