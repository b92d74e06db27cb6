import numpy as np
from numba import njit

from longdep_tasks._rng import randint, sample_key, stream_key, uniform


@njit(cache=False)
def _draws(stream, n):
    out_u = np.empty(n)
    out_i = np.empty(n, dtype=np.int64)
    for i in range(n):
        key = sample_key(stream, i)
        out_u[i] = uniform(key, 0)
        out_i[i] = randint(key, 1, 7)
    return out_u, out_i


def test_stream_key_is_stable_and_sensitive_to_every_part():
    base = stream_key("copy", 1, {"n": 10}, 50, 0, "train")
    assert base == stream_key("copy", 1, {"n": 10}, 50, 0, "train")
    variants = [stream_key("copy", 2, {"n": 10}, 50, 0, "train"), stream_key("copy", 1, {"n": 11}, 50, 0, "train"),
                stream_key("copy", 1, {"n": 10}, 51, 0, "train"), stream_key("copy", 1, {"n": 10}, 50, 1, "train"),
                stream_key("copy", 1, {"n": 10}, 50, 0, "eval")]
    assert len({base, *variants}) == 6


def test_uniform_and_randint_are_in_range_and_roughly_uniform():
    u, i = _draws(stream_key("test"), 60_000)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.003
    counts = np.bincount(i, minlength=7)
    assert counts.min() > 0.9 * 60_000 / 7 and i.max() == 6


def test_draws_are_a_pure_function_of_key_and_index():
    first_u, first_i = _draws(stream_key("a"), 100)
    again_u, again_i = _draws(stream_key("a"), 100)
    other_u, _ = _draws(stream_key("b"), 100)
    assert np.array_equal(first_u, again_u) and np.array_equal(first_i, again_i)
    assert not np.array_equal(first_u, other_u)
