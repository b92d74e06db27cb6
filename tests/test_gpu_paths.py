"""The code paths a GPU takes, exercised on the CPU: batches prefetched by a background thread, mixed
precision (autocast), torch.compile for the models it helps, and their place in the cell key.
benchmarks/gpu_check.py measures them on a real GPU."""

import numpy as np
import pytest
import torch

import longdep_tasks as tasks
from bench.sweep import Cell, ModelConfig, TrainConfig
from bench.train import prefetched, train_cell

TINY = dict(steps=20, eval_every=10, eval_size=16, batch_size=8)


def _generate(step):
    return tasks.get("adding").generate(8, 20, 3, "train", 8 * step)


def test_prefetched_batches_are_the_training_stream_in_order():
    stream = prefetched(_generate, torch.device("cpu"))
    for step in range(5):
        ours = next(stream)
        for got, want in zip(ours, _generate(step)):
            np.testing.assert_array_equal(got.numpy(), want)
    stream.close()  # joins the thread: no generation runs after the loop has stopped


def test_a_failing_generator_fails_the_loop_instead_of_hanging():
    def broken(step):
        if step == 2:
            raise ValueError("kernel broke")
        return _generate(step)

    stream = prefetched(broken, torch.device("cpu"))
    next(stream), next(stream)
    with pytest.raises(ValueError, match="kernel broke"):
        next(stream)


def test_amp_bf16_runs_the_forward_under_autocast_and_has_its_own_key(monkeypatch):
    plain = Cell("adding", 10, "gru", 0, ModelConfig(hidden=8), TrainConfig(**TINY))
    mixed = Cell("adding", 10, "gru", 0, ModelConfig(hidden=8), TrainConfig(**TINY, amp="bf16"))
    assert plain.key != mixed.key
    seen = []
    real = torch.autocast

    def recording(device_type, dtype=None, **kwargs):
        seen.append((device_type, dtype))
        return real(device_type, dtype=dtype, **kwargs)

    monkeypatch.setattr(torch, "autocast", recording)
    assert train_cell(plain)["status"] != "failed" and not seen
    record = train_cell(mixed)
    assert record["status"] != "failed", record["error"]
    assert seen and set(seen) == {("cpu", torch.bfloat16)}


def test_amp_on_the_cpu_is_refused_in_one_line(bench_cli, tmp_path):
    result = bench_cli("run", "--task", "adding", "--lengths", "10", "--amp", "bf16", "--device", "cpu",
                       "--out", tmp_path)
    assert result.code == 2 and "--amp bf16 needs a CUDA device" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


def test_compile_applies_to_the_transformer_and_lru_only_and_keys_say_so(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda function, **kwargs: compiled.append(function) or function)
    for name, expected in (("lru", 1), ("gru", 0)):
        compiled.clear()
        on = Cell("adding", 10, name, 0, ModelConfig(hidden=8), TrainConfig(**TINY, compile=True))
        off = Cell("adding", 10, name, 0, ModelConfig(hidden=8), TrainConfig(**TINY))
        record = train_cell(on)
        assert record["status"] != "failed", record["error"]
        assert len(compiled) == expected
        assert (on.key != off.key) == bool(expected)  # a gru cell with --compile is the same cell
