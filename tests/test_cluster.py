"""The Ray executor on a simulated three-node cluster on this machine (every node bound to 127.0.0.1, so
no traffic leaves the loopback interface): cells spread over the nodes, their numbers equal the
in-process executor's, and a node removed mid-sweep has its cell re-run elsewhere, nothing lost or
stored twice."""

import json
import threading
import time

import pytest

from bench.executors import InProcessExecutor, RayExecutor
from bench.runner import run_sweep
from bench.store import Store
from bench.sweep import ModelConfig, Sweep, TrainConfig
from conftest import files_under, require_ray

pytestmark = pytest.mark.slow  # a three-node Ray cluster

LOOPBACK = "127.0.0.1"
# six cells of a few seconds each: long enough that a node can be removed while one runs on it
SWEEP = Sweep(("delayed-recall",), (5, 6), ("rnn", "gru", "lstm"), (0,), ModelConfig(hidden=16),
              TrainConfig(steps=300, eval_every=100, eval_size=32, batch_size=16, stop="budget"))
NUMBERS = ("status", "loss", "accuracy", "best_valid_accuracy", "steps", "steps_to_solve", "params")


@pytest.fixture(scope="module")
def cluster():
    ray = require_ray()
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()  # another test's local instance: this module needs its own cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": LOOPBACK,
                                                             "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK) for _ in range(2)]
    cluster.wait_for_nodes()
    with pytest.MonkeyPatch.context() as patch:
        # Ray rewrites a 127.0.0.1 address to the machine's public IP, where nothing listens here
        patch.setattr("ray._private.services.resolve_ip_for_localhost", lambda host: host)
        ray.init(address=cluster.address, _node_ip_address=LOOPBACK, log_to_driver=False, configure_logging=False)
        yield cluster, workers
        ray.shutdown()
        cluster.shutdown()


def test_every_node_listens_on_the_loopback_interface_only(cluster):
    import ray

    nodes = [node for node in ray.nodes() if node["Alive"]]
    assert len(nodes) == 3 and {node["NodeManagerAddress"] for node in nodes} == {LOOPBACK}


def test_cells_spread_over_the_nodes_and_a_removed_node_loses_nothing(cluster, tmp_path):
    the_cluster, workers = cluster
    store = Store(tmp_path)
    removed = threading.Event()

    def remove_a_node_once_cells_run():
        deadline = time.time() + 300
        while not files_under(tmp_path / "cells") and time.time() < deadline:
            time.sleep(0.2)  # the first cell is stored: the others are running on all three nodes
        the_cluster.remove_node(workers[0])
        removed.set()

    threading.Thread(target=remove_a_node_once_cells_run, daemon=True).start()
    summary = run_sweep(SWEEP, store, "cluster", RayExecutor(), progress=False)
    assert removed.is_set()
    assert summary.failed == 0 and summary.computed == 6
    cell_files = [p for p in files_under(tmp_path / "cells") if p.suffix == ".json" and not p.name.startswith(".")]
    assert sorted(p.stem for p in cell_files) == sorted(cell.key for cell in SWEEP.expand())  # each once
    nodes = {json.loads(p.read_text())["record"]["provenance"].get("ray_node") for p in cell_files}
    assert len(nodes) >= 2, nodes  # spread, not queued on one node
    reference = {r["key"]: r for r in InProcessExecutor().map(SWEEP.expand())}
    for record in summary.records:
        assert {k: record[k] for k in NUMBERS} == {k: reference[record["key"]][k] for k in NUMBERS}
