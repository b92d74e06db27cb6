"""`bench horizon`: find each model's horizon adaptively instead of over a fixed grid.

The candidate lengths are a geometric grid (min, min*ratio, ..., up to max). For each model the search
gallops up the grid while the model solves (it probes candidates 0, 1, 3, 7, ...: the jump doubles each
time), then bisects between the last solved and the first unsolved candidate. When solving is monotone
in the length this reaches the answer a full grid over the same candidates gives (the largest candidate
at which at least half of the seeds solved) after O(log n) probes instead of n. Every probe is all seeds
of one (model, length); every stored cell is reused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator

from bench import provenance
from bench.store import Store, write_json
from bench.sweep import Cell, Sweep

if TYPE_CHECKING:  # the search's driver imports torch; `bench horizon`'s option checks must not
    from bench.executors import Executor

Search = Generator[int, bool, int]


def candidate_lengths(low: int, high: int, ratio: float = 2.0) -> tuple[int, ...]:
    """low, low*ratio, ... rounded, up to and including `high` (added at the end when the grid misses it)."""
    lengths, value = [], float(low)
    while round(value) <= high:
        if not lengths or round(value) > lengths[-1]:
            lengths.append(round(value))
        value *= ratio
    if lengths[-1] != high:
        lengths.append(high)
    return tuple(lengths)


def gallop_then_bisect(count: int) -> Search:
    """Yields candidate indices to probe and is sent whether each was solved; returns the index of the
    largest solved candidate (-1: none)."""
    solved_index, unsolved_index, index, jump = -1, count, 0, 1
    while index < count:
        if (yield index):
            solved_index, index, jump = index, index + jump, jump * 2
        else:
            unsolved_index = index
            break
    if unsolved_index == count and solved_index < count - 1:  # jumped past the end: probe the last one
        if (yield count - 1):
            return count - 1
        unsolved_index = count - 1
    while unsolved_index - solved_index > 1:
        middle = (solved_index + unsolved_index) // 2
        if (yield middle):
            solved_index = middle
        else:
            unsolved_index = middle
    return solved_index


@dataclass
class HorizonSearch:
    """What `find_horizons` did: each model's horizon and probed lengths, and cell counts."""

    run_dir: Path
    candidates: tuple[int, ...]
    horizons: dict[str, int | None]
    probed: dict[str, list[int]]
    cells: list[Cell]
    trained: int
    records: list[dict[str, Any]]

    @property
    def grid_cells(self) -> int:
        """Cells a full grid over the same candidates, models and seeds would train."""
        return len(self.candidates) * len(self.horizons) * len({cell.seed for cell in self.cells})

    def summary(self) -> dict[str, Any]:
        return {"candidates": list(self.candidates), "horizons": self.horizons, "probed_lengths": self.probed,
                "cells": len(self.cells), "trained": self.trained, "grid_cells": self.grid_cells}


HORIZON_KIND = "horizon search"  # the manifest's "kind" of a bench horizon run


def find_horizons(sweep: Sweep, candidates: tuple[int, ...], store: Store, executor: Executor,
                  name: str | None = None, progress: bool = True, argv: list[str] | None = None,
                  force: bool = False, checkpoint_every: float = 60.0) -> HorizonSearch:
    """Search every model of `sweep` (its lengths are ignored; `candidates` are searched) for its
    horizon on the sweep's one task, all models in lockstep so each round's cells run together. A name
    taken by another search or run raises NameTaken unless `force`."""
    searched = replace(sweep, lengths=candidates)
    run_dir = store.run_dir(name or f"horizon-{searched.default_name()}")
    from bench.claims import run_in_progress
    from bench.executors import release
    from bench.runner import check_name_free, finish_run, new_manifest, start_run

    if not force:
        check_name_free(store, run_dir.name, searched, HORIZON_KIND)
    manifest = {**new_manifest(searched, run_dir.name, [], argv or provenance.argv()), "kind": HORIZON_KIND}
    result = HorizonSearch(run_dir, candidates, {}, {model: [] for model in sweep.models}, [], 0, [])
    with run_in_progress(store):  # gc deletes nothing from here to the report
        start_run(store, run_dir, manifest)
        try:
            _search_rounds(result, sweep, store, executor, progress, checkpoint_every)
        finally:
            release(executor)  # the workers served every round; they stop with the search
            manifest["horizon_search"] = result.summary()
            result.records = finish_run(store, run_dir, manifest, result.cells)
            write_json(run_dir / "horizon.json", result.summary())
    return result


def _search_rounds(result: HorizonSearch, sweep: Sweep, store: Store, executor: Executor, progress: bool,
                   checkpoint_every: float) -> None:
    """Round by round, each model's next probe length, until every model's search ends; `result` holds
    what was done so far when a round is cut short."""
    from bench.runner import compute_cells

    searches = {model: gallop_then_bisect(len(result.candidates)) for model in sweep.models}
    probes = {model: next(search) for model, search in searches.items()}
    while probes:
        round_cells = {model: _probe_cells(sweep, model, result.candidates[index]) for model, index in probes.items()}
        batch = [cell for group in round_cells.values() for cell in group]
        result.cells += [cell for cell in batch if cell not in result.cells]
        result.trained += compute_cells(batch, store, executor, progress, checkpoint_every=checkpoint_every).count
        for model in list(probes):
            result.probed[model].append(result.candidates[probes[model]])
            try:
                probes[model] = searches[model].send(_solved(store, round_cells[model]))
            except StopIteration as done:
                result.horizons[model] = result.candidates[done.value] if done.value >= 0 else None
                del probes[model]


def _probe_cells(sweep: Sweep, model: str, length: int) -> list[Cell]:
    return replace(sweep, models=(model,), lengths=(length,)).expand()


def _solved(store: Store, cells: list[Cell]) -> bool:
    """At least half of the seeds solved (failed cells, harness errors, left out)."""
    records = [r for r in store.load_cells(cell.key for cell in cells) if r["status"] != "failed"]
    from bench.horizon import SOLVED_SHARE  # pandas: not for option checking

    return bool(records) and sum(bool(r["solved"]) for r in records) >= SOLVED_SHARE * len(records)
