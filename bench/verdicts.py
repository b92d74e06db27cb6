"""What a cell's numbers say about memory: the at-chance, bridged and verdict rules.

These are scientific rules, not storage: every table (results.csv, report.md, report.html, the end-of-run
summary) derives them here from the stored numbers when it is built, so a stored cell always shows
today's definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.stats import Z_ONE_SIDED

if TYPE_CHECKING:
    import pandas as pd

# A cell beats a baseline when its test numbers are better than the baseline's by more than their
# sampling error allows (one-sided test at 5%: Z_ONE_SIDED standard errors over the test sequences) and by
# at least an effect-size floor (1% of the loss, or 1% of the way from the baseline's accuracy to perfect),
# on its loss or on its accuracy. The same test decides both verdicts, against chance (the best input-blind
# predictor) and against short memory (blind only to the inputs at the full span); so where the two
# baselines coincide, beating chance is bridging, and a miscalibrated model (accuracy far above the baseline,
# loss not) that did bridge is called bridged.
EFFECT_FLOOR = 0.01
VERDICTS = ("solved", "bridged", "partial memory", "at chance", "diverged", "failed")
BROKEN = ("diverged", "failed")  # training broke down: no test number to average
RULE_TEXT = (f"A cell beats a baseline when its test loss is below the baseline's loss, or its test accuracy "
             f"above the baseline's accuracy, by more than {Z_ONE_SIDED:.3g} standard errors over the test "
             f"sequences (one-sided, 5%) and by at least {EFFECT_FLOOR:.0%} (of the loss, or of the way to "
             "perfect accuracy). At chance: it does not beat chance. Bridged: it beats short memory (the best "
             "predictor blind to the inputs at the full span). Partial memory: it beats chance but not short "
             "memory. Solved: the task's solve rule held; under --stop budget a cell whose final test misses "
             "the rule shows the final verdict with its solve step (solved, then lost).")


def beats(frame: pd.DataFrame, baseline: str) -> pd.Series:
    """Cells whose test loss or accuracy beats the `baseline` ("chance" or "short_memory") beyond its
    sampling error and the effect-size floor."""
    loss, loss_se = frame["loss"].astype(float), frame["loss_se"].astype(float).fillna(float("inf"))
    base_loss = frame[f"{baseline}_loss"].astype(float)
    by_loss = (base_loss - loss > Z_ONE_SIDED * loss_se) & (base_loss - loss > EFFECT_FLOOR * base_loss)
    accuracy, base_accuracy = frame["accuracy"].astype(float), frame[f"{baseline}_accuracy"].astype(float)
    accuracy_se = frame["accuracy_se"].astype(float).fillna(float("inf"))
    gain = accuracy - base_accuracy
    by_accuracy = (gain > Z_ONE_SIDED * accuracy_se) & (gain > EFFECT_FLOOR * (1 - base_accuracy))
    return (by_loss | by_accuracy).fillna(False).astype(bool)


def at_chance(frame: pd.DataFrame) -> pd.Series:
    """Cells that do not beat chance (see `beats`)."""
    return ~beats(frame, "chance")


def bridged(frame: pd.DataFrame) -> pd.Series:
    """Cells that beat the short-memory baseline (and so carried information across the whole
    dependency), and chance too."""
    return beats(frame, "short_memory") & ~at_chance(frame)


def lost(frame: pd.DataFrame) -> pd.Series:
    """Cells solved during a --stop budget run whose final test misses the solve rule."""
    final = frame["final_solved"] if "final_solved" in frame else None
    if final is None or not len(frame):
        return _none(frame)
    return (frame["solved"].fillna(False).astype(bool) & (frame["stop"] == "budget")
            & final.map(lambda value: value is False or value == 0.0))


def _none(frame: pd.DataFrame) -> pd.Series:
    import pandas as pd

    return pd.Series(False, index=frame.index, dtype=bool)


def verdicts(frame: pd.DataFrame) -> pd.Series:
    """What a cell shows about memory: solved, bridged, partial memory (beats chance, not short memory),
    at chance; or its status when training broke down (diverged, failed). A solved cell whose final test
    missed the rule (`lost`) shows the final test's verdict."""
    import pandas as pd

    gone = lost(frame)

    def one(row: pd.Series) -> str:
        if row["status"] in BROKEN and pd.isna(row["loss"]):
            return row["status"]
        if row["solved"] and not gone[row.name]:
            return "solved"
        return "at chance" if row["at_chance"] else "bridged" if row["bridged"] else "partial memory"

    return frame.apply(one, axis=1) if len(frame) else pd.Series(dtype=str)
