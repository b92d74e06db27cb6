import dataclasses

from bench.sweep import Cell, ModelConfig, Sweep, TrainConfig


def test_expand_is_every_combination_in_a_fixed_order():
    sweep = Sweep(("copy", "adding"), (50, 10), ("gru", "rnn"), (0, 1))
    cells = sweep.expand()
    assert len(cells) == 16
    assert [c.label() for c in cells[:3]] == ["copy L=50 gru seed=0", "copy L=50 gru seed=1", "copy L=50 rnn seed=0"]
    assert cells == sweep.expand()


def test_key_is_stable_and_changes_with_everything_that_changes_numbers():
    cell = Cell("adding", 50, "gru", 0)
    assert cell.key == Cell("adding", 50, "gru", 0).key
    variants = [
        dataclasses.replace(cell, task="copy"), dataclasses.replace(cell, length=51),
        dataclasses.replace(cell, model="lstm"), dataclasses.replace(cell, seed=1),
        dataclasses.replace(cell, model_config=ModelConfig(hidden=64)),
        dataclasses.replace(cell, train=TrainConfig(lr=2e-3)), dataclasses.replace(cell, train=TrainConfig(steps=10)),
        dataclasses.replace(cell, device="cuda"),
    ]
    assert len({cell.key, *(v.key for v in variants)}) == len(variants) + 1


def test_key_ignores_which_gpu_runs_the_cell():
    assert Cell("adding", 50, "gru", 0, device="cuda:0").key == Cell("adding", 50, "gru", 0, device="cuda:1").key


def test_same_sweep_same_run_name():
    assert Sweep(("adding",), (50,)).default_name() == Sweep(("adding",), (50,)).default_name()
    assert Sweep(("adding",), (50,)).default_name() != Sweep(("adding",), (60,)).default_name()
