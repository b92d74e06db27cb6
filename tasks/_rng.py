"""Counter-based random numbers for the numba kernels (splitmix64).

Every draw is a pure function of (stream key, sample index, counter): a batch is reproducible from its
first index alone, the result does not depend on how many threads fill it, and two streams (train and
eval) are independent because their keys differ. Numba's own np.random is per-thread state that Python
cannot seed, so kernels never touch it.

All arithmetic stays in uint64: numba turns uint64 mixed with int64 into float64, which would silently
destroy the bits.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from longdep_tasks._jit import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_ONE = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


def stream_key(*parts: object) -> np.uint64:
    """A 64-bit key from JSON-serialisable parts (task, version, params, length, seed, split)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


@njit(cache=True, inline="always")
def mix64(z):
    """The splitmix64 finaliser: a bijection on uint64 that scrambles every bit."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def sample_key(stream, index):
    """The key of sample `index` (a non-negative int) of `stream`."""
    return mix64(stream ^ mix64(np.uint64(index) * _GOLDEN + _ONE))


@njit(cache=True, inline="always")
def bits(skey, counter):
    """64 random bits: draw number `counter` of the sample keyed `skey`."""
    return mix64(skey + (np.uint64(counter) + _ONE) * _GOLDEN)


@njit(cache=True, inline="always")
def uniform(skey, counter):
    """A float64 uniform in [0, 1) with 53 random bits."""
    return float(bits(skey, counter) >> _S11) * _INV53


@njit(cache=True, inline="always")
def randint(skey, counter, n):
    """An int uniform in [0, n) for 0 < n < 2**32 (multiply-shift; bias below n / 2**32)."""
    high = bits(skey, counter) >> _S32
    return np.int64((high * np.uint64(n)) >> _S32)


def token_arrays(n, steps):
    """Uninitialised x, y (int64) and mask for n token sequences, for a kernel that writes every element.

    numpy allocates them rather than the kernel: numpy advises the kernel to back large arrays with huge
    pages, numba's allocator does not, and faulting in a 70-140 MB batch 4 KiB at a time costs more than
    generating it."""
    return (np.empty((n, steps), dtype=np.int64), np.empty((n, steps), dtype=np.int64),
            np.empty((n, steps), dtype=np.bool_))


def feature_arrays(n, steps, features):
    """Uninitialised float32 x (n, steps, features), float32 y and mask, as token_arrays."""
    return (np.empty((n, steps, features), dtype=np.float32), np.empty((n, steps), dtype=np.float32),
            np.empty((n, steps), dtype=np.bool_))


def filled(arrays, fill, *args):
    """`arrays` once fill(*arrays, *args) has written every element of them: a built-in kernel's body."""
    fill(*arrays, *args)
    return arrays


@njit(cache=True, inline="always")
def clear_row(x, y, mask, i, x_fill, y_fill):
    """Start row i: x filled with x_fill, y with y_fill, nothing scored. Called inside the kernel's
    parallel loop, so the row is written while it is in cache and each thread clears its own rows."""
    x[i] = x_fill
    y[i] = y_fill
    mask[i] = False
