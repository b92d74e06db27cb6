"""my-task: ONE LINE SAYING WHAT THE MODEL MUST REMEMBER (the paper it follows, year).

Copy this file to tasks/my_task.py (no leading underscore: files starting with "_" are not discovered),
or keep it anywhere and pass `--plugin path/to/my_task.py`. Then:

  1. Rename: the task name below, the kernel and oracle functions, the module constant at the bottom.
  2. Write the kernel: it fills x (inputs), y (targets) and mask (the positions that are scored).
  3. Say how long the sequence is for dependency length L (`seq_len`) and how far back the scored
     targets reach at least (`min_span`).
  4. Work out the chance level: the loss and accuracy of the best predictor that ignores the inputs.
  5. Run `bench check my-task` (add `--plugin FILE` outside tasks/): it generates data and proves
     the shapes, determinism, the dependency span and the chance level, naming anything that is wrong.
  6. Run `bench show my-task --length 10` to look at one example, then sweep it like any other task.

This working example is the simplest memory task there is: remember the first token across L blanks
and say it at the end. Document here, as the other task files do, the exact layout of x and y.
"""

from __future__ import annotations

import math

import numpy as np

from longdep_tasks import Option, SolveRule, Task, register
from longdep_tasks._jit import njit, prange
from longdep_tasks._rng import randint, sample_key  # counter-based: never np.random inside a kernel


# parallel=True fills samples on all cores; cache=True keeps the compiled kernel between runs.
@njit(parallel=True, cache=True)
def _my_task_kernel(stream, start, n, length, n_symbols):
    """Samples start..start+n-1 of `stream`. Every random draw is randint/uniform(key, counter, ...)
    with a counter unique within the sample, so a sample depends on its index alone."""
    blank = n_symbols
    steps = length + 1
    x = np.full((n, steps), blank, dtype=np.int64)  # tokens: int64 (n, steps); features: float32 (n, steps, k)
    y = np.zeros((n, steps), dtype=np.int64)  # classify: int64 class ids; regress: float32 values
    mask = np.zeros((n, steps), dtype=np.bool_)  # True where the prediction is scored
    for i in prange(n):
        key = sample_key(stream, start + i)  # this sample's key
        symbol = randint(key, 0, n_symbols)  # draw number 0 of the sample
        x[i, 0] = symbol
        y[i, length] = symbol  # recall it L steps later, at the last step
        mask[i, length] = True
    return x, y, mask


def _my_task_oracle(x: np.ndarray, length: int) -> np.ndarray:
    """The right answers computed from x alone, in plain numpy: the checker compares them with y."""
    y = np.zeros(x.shape, dtype=np.int64)
    y[:, length] = x[:, 0]
    return y


def make_my_task(n_symbols: int = 8) -> Task:
    """Options become keyword arguments here and go into `params` (and so into every cell key); declared
    in `options`, they can be set from the command line as `my-task:n_symbols=4`."""
    return Task(
        name="my-task",  # the name used on the command line; must be unique
        version=1,  # bump whenever the data for a given (params, length, seed) changes
        description="recall the first token after L blanks (template)",  # one line for `bench tasks`
        kind="classify",  # "classify" (cross-entropy, argmax accuracy) or "regress" (MSE, |error| < tolerance)
        inputs="tokens",  # "tokens" (x holds ids) or "features" (x holds float vectors)
        n_inputs=n_symbols + 1,  # vocabulary size for tokens, vector length for features
        n_outputs=n_symbols,  # classes for classify, 1 for regress
        seq_len=lambda length: length + 1,  # sequence length for length L
        min_span=lambda length: length,  # every sample's scored target depends on an input this far back
        length_meaning="blank steps between the token and its recall",  # what L counts, in words
        input_names={n_symbols: "blank"},  # token ids with a role, named in `bench show` (data symbols need none)
        kernel=_my_task_kernel,  # called as kernel(stream, start, n, length, *kernel_args)
        kernel_args=(n_symbols,),  # the kernel's arguments after length: the options it needs
        oracle=_my_task_oracle,  # oracle(x, length) -> y, independent of the kernel
        chance_loss=lambda length: math.log(n_symbols),  # loss of the best input-blind predictor
        chance_accuracy=1.0 / n_symbols,  # its accuracy on the scored positions
        loss_on="mask",  # "mask": loss on the scored positions only; "all": on every step (as copy publishes)
        rule=SolveRule("accuracy", 0.99),  # solved at 99% accuracy over the last 2000 training sequences
        tolerance=0.04,  # regress only: a prediction within this of the target counts as correct
        short_memory=None,  # None: the inputs min_span back hold everything, so short memory = chance
        min_length=1,  # the shortest dependency length the layout allows
        params={"n_symbols": n_symbols},  # the options, recorded in every result
        source="the paper this follows, year",
        options={"n_symbols": Option(8, low=2, high=1000, help="symbols to choose from")},  # settable options
        make=make_my_task,  # builds a variant from options
        peers=(),  # published generators this reproduces: Peer(repo, path, variant, differences)
    )


MY_TASK = register(make_my_task())
