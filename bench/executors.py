"""Executors run cells and yield their results as they finish; the caller alone writes them.

Contract: `map(cells, on_progress) -> iterator of result records`, one per cell, in completion order.
A cell that raises is a `failed` record, never an exception out of `map`.

- InProcessExecutor: one cell after another in this process (no start-up cost).
- LocalExecutor: worker processes (spawn), `jobs` cells at a time, each worker with its own torch and
  numba thread budget so cores are packed, not oversubscribed; on CUDA, cells are spread over GPUs.
- RayExecutor: the same cells as Ray tasks on a local instance or a cluster.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import queue
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterator, Protocol, Sequence

import multiprocessing

import numba
import torch

from bench.plugins import PluginFile, ensure_plugins, loaded_plugins
from bench.provenance import usable_cores
from bench.sweep import Cell
from bench.train import ProgressCallback, failed_record, train_cell


class Executor(Protocol):
    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        """Train every cell; yield each result record as it finishes."""
        ...

    # optional: close() releases workers kept between `map` calls (see `release`)


def release(executor: Executor) -> None:
    """Stop the workers an executor keeps between `map` calls (an executor without `close` keeps none)."""
    close = getattr(executor, "close", None)
    if close is not None:
        close()


def set_threads(threads: int) -> None:
    """Size torch's and numba's thread pools for this process.

    Two pools spinning over the same cores slow each other down many times over (OpenMP threads
    busy-wait), so every worker gets a budget and the budgets add up to the machine."""
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def local_slots(device: str, jobs: int | None, threads: int, cells_per_gpu: int) -> tuple[int, list[str]]:
    """(cells at a time, GPUs to spread them over) for the local executor.

    CPU: enough single-budget workers to fill the cores. CUDA: `cells_per_gpu` per visible GPU
    (small recurrent models leave a GPU mostly idle, so several share one)."""
    if not device.startswith("cuda"):
        return jobs or max(1, usable_cores() // threads), []
    gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if device == "cuda" else [device]
    return jobs or len(gpus) * cells_per_gpu, gpus


def make_executor(kind: str, device: str, threads: int, jobs: int | None = None, cells_per_gpu: int = 1,
                  ray_address: str | None = None, cpus_per_cell: float | None = None,
                  gpus_per_cell: float | None = None) -> "Executor":
    """The executor a `bench run` asked for."""
    if kind == "ray":
        gpus = gpus_per_cell if gpus_per_cell is not None else (1 / cells_per_gpu if device.startswith("cuda") else 0)
        return RayExecutor(ray_address, cpus_per_cell or threads, gpus)
    slots, gpus = local_slots(device, jobs, threads, cells_per_gpu)
    return InProcessExecutor() if slots == 1 else LocalExecutor(slots, gpus)


def _train_with_budget(cell: Cell, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Train one cell with this process's thread pools sized to the cell's budget."""
    set_threads(cell.threads)
    return train_cell(cell, on_progress)


class InProcessExecutor:
    """Cells one after another in this process."""

    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        for cell in cells:
            yield _train_with_budget(cell, on_progress)


# --- local worker processes -------------------------------------------------------------------

_progress_queue: Any = None  # set in each worker by _start_worker


def _start_worker(progress_queue: Any, plugins: Sequence[PluginFile]) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    ensure_plugins(plugins)  # the driver's --plugin files, so their tasks and models exist here too
    progress_queue.cancel_join_thread()  # never hang at exit flushing progress nobody needs
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and stops the workers
    _die_with_parent()


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the driver dies (even by SIGKILL), so no orphan keeps
    training cells whose results nobody will store."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _report_progress(cell: Cell, step: int, accuracy: float | None) -> None:
    _progress_queue.put((cell.key, step, accuracy))


def _train_in_worker(cell: Cell) -> dict[str, Any]:
    return _train_with_budget(cell, _report_progress)


def _warm_up(task_names: Sequence[str]) -> None:
    """Load what every cell needs (torch's training code, each task's compiled kernel) before the first."""
    import longdep_tasks as tasks

    for name in task_names:
        task = tasks.get(name)
        task.generate(1, max(task.min_length, 2), 0, "train")


class LocalExecutor:
    """`jobs` worker processes on this machine; on CUDA, cells are balanced over `gpus` devices.

    The workers are started once (`start`, which the runner calls as soon as it knows they pay, so they
    import torch and numba and load the kernels while the driver prepares) and reused for every cell and
    every `map` until `close`. A pool broken by a crashed worker is replaced."""

    def __init__(self, jobs: int, gpus: Sequence[str] = ()) -> None:
        self.jobs, self.gpus = jobs, list(gpus)
        self._pool: ProcessPoolExecutor | None = None
        self._relay: _ProgressRelay | None = None
        self._plugins: tuple[PluginFile, ...] = ()
        self.ready_seconds: float | None = None  # how long the last pool took until every worker was ready

    def start(self, task_names: Sequence[str] = ()) -> None:
        """Start the workers now (if not running) and have each load `task_names`' kernels."""
        plugins = tuple(loaded_plugins())
        if self._pool is not None and plugins == self._plugins:
            return
        self.close()
        context = multiprocessing.get_context("spawn")  # fork after torch/numba threads is unsafe
        self._relay, self._plugins = _ProgressRelay(context), plugins
        self._pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_start_worker,
                                         initargs=(self._relay.queue, plugins))
        began, warm = time.perf_counter(), [self._pool.submit(_warm_up, tuple(task_names)) for _ in range(self.jobs)]
        left = [len(warm)]

        def ready(_: Future) -> None:
            left[0] -= 1
            if not left[0]:
                self.ready_seconds = time.perf_counter() - began
        for future in warm:
            future.add_done_callback(ready)

    def close(self, terminate: bool = False) -> None:
        """Stop the workers: idle ones are shut down, running ones terminated when `terminate`."""
        if self._pool is not None:
            _terminate_pool(self._pool) if terminate else self._pool.shutdown(wait=True, cancel_futures=True)
        if self._relay is not None:
            self._relay.close()
        self._pool = self._relay = None

    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        if not cells:
            return
        pending = list(reversed(cells))
        while pending:  # a pool broken by a crashed worker is replaced and the sweep goes on
            self.start(sorted({cell.task for cell in cells}))
            self._relay.listen({cell.key: cell for cell in cells}, on_progress)
            try:
                broken = yield from self._drain(self._pool, pending)
            except BaseException:  # Ctrl-C, or the caller stopped early: do not wait for running cells
                self.close(terminate=True)
                raise
            if broken:
                self.close(terminate=True)

    def _drain(self, pool: ProcessPoolExecutor, pending: list[Cell]) -> Iterator[dict]:
        """Keep `jobs` cells running until none are left; returns True if the pool broke."""
        running: dict[Future, Cell] = {}
        load = {gpu: 0 for gpu in self.gpus}
        while pending or running:
            while pending and len(running) < self.jobs:
                cell = self._place(pending.pop(), load)
                running[pool.submit(_train_in_worker, cell)] = cell
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                cell = running.pop(future)
                if cell.device in load:
                    load[cell.device] -= 1
                try:
                    yield future.result()
                except BrokenProcessPool:
                    yield failed_record(cell, "worker process died (killed or crashed) while this cell ran")
                    pending.extend(running.values())  # innocent cells of the broken pool run again
                    return True
                except Exception as error:  # e.g. a result that could not be sent back
                    yield failed_record(cell, f"worker error: {type(error).__name__}: {error}")
        return False

    def _place(self, cell: Cell, load: dict[str, int]) -> Cell:
        """Put a CUDA cell on the least loaded GPU (the key ignores which GPU)."""
        if not load or cell.device_kind != "cuda":
            return cell
        gpu = min(load, key=load.__getitem__)
        load[gpu] += 1
        return dataclasses.replace(cell, device=gpu)


class _ProgressRelay:
    """A queue the workers put (cell key, step, accuracy) on, and a thread that hands each message to the
    current `map`'s `on_progress` in the driver. One per pool: a worker terminated mid-write keeps the
    queue's shared write lock forever, so a queue never outlives its pool, and the driver never writes to
    it (the thread stops on an Event, not on a sentinel)."""

    def __init__(self, context: Any) -> None:
        self.queue, self.stop = context.Queue(), threading.Event()
        self.by_key: dict[str, Cell] = {}
        self.on_progress: ProgressCallback | None = None
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def listen(self, by_key: dict[str, Cell], on_progress: ProgressCallback | None) -> None:
        self.by_key, self.on_progress = by_key, on_progress

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def _relay(self) -> None:
        while not self.stop.is_set():
            try:
                key, step, accuracy = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            on_progress, cell = self.on_progress, self.by_key.get(key)
            if on_progress and cell is not None:
                on_progress(cell, step, accuracy)


def _terminate_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: running workers are terminated rather than awaited."""
    workers = list(getattr(pool, "_processes", {}).values())  # no public handle on the processes
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=5)


# --- Ray ------------------------------------------------------------------------------------------

LOOPBACK = "127.0.0.1"


def start_local_ray(**settings: Any) -> None:
    """A local Ray instance whose node lives on the loopback interface: its processes are addressed as
    127.0.0.1, so no Ray traffic uses the machine's network address. Ray itself rewrites a 127.0.0.1
    node address to the machine's routable IP (services.resolve_ip_for_localhost, a private function);
    it is held back while the instance starts, and where a Ray version lacks it nothing is patched."""
    import contextlib
    from unittest import mock

    import ray

    services = getattr(getattr(ray, "_private", None), "services", None)
    keep_loopback = (mock.patch.object(services, "resolve_ip_for_localhost", lambda host: host)
                     if hasattr(services, "resolve_ip_for_localhost") else contextlib.nullcontext())
    with keep_loopback:
        ray.init(_node_ip_address=LOOPBACK, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 **settings)


class RayExecutor:
    """Cells as Ray tasks with `cpus_per_cell` CPUs and a (fractional) `gpus_per_cell` GPU each.

    Results return to the driver, which alone writes them. `address` None starts a local instance;
    "auto" or "ray://host:10001" joins a cluster whose nodes have `bench` installed."""

    def __init__(self, address: str | None = None, cpus_per_cell: float = 1, gpus_per_cell: float = 0) -> None:
        self.address, self.cpus_per_cell, self.gpus_per_cell = address, cpus_per_cell, gpus_per_cell

    def map(self, cells: Sequence[Cell], on_progress: ProgressCallback | None = None) -> Iterator[dict]:
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                start_local_ray()
        task = ray.remote(num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell)(_train_on_ray)
        plugins = loaded_plugins()
        running = {task.remote(cell, plugins): cell for cell in cells}
        try:
            while running:
                done, _ = ray.wait(list(running), num_returns=1)
                cell = running.pop(done[0])
                try:
                    yield ray.get(done[0])
                except Exception as error:  # the Ray worker died, or the task could not run
                    yield failed_record(cell, f"Ray task failed: {type(error).__name__}: {error}")
        finally:
            for reference in running:
                ray.cancel(reference, force=True)


def _train_on_ray(cell: Cell, plugins: Sequence[PluginFile]) -> dict[str, Any]:
    import ray

    ensure_plugins(plugins)
    record = _train_with_budget(cell)
    record["provenance"]["ray_node"] = ray.get_runtime_context().get_node_id()  # which node ran it
    return record
