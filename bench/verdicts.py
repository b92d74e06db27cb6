"""What a cell's numbers say about memory: the at-chance, bridged and verdict rules.

These are scientific rules, not storage: every table (results.csv, report.md, report.html, the end-of-run
summary) derives them here from the stored numbers when it is built, so a stored cell always shows
today's definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# At chance: the test loss no more than 10% below the memoryless loss (loss / chance > 0.9), and the
# accuracy less than 10% of the way from chance to perfect. The loss catches the published trap (copy's
# CE equal to the memoryless CE); the accuracy keeps a cell that does beat chance, but with poorly
# calibrated outputs, from being flagged.
AT_CHANCE_RATIO = 0.9
AT_CHANCE_ACCURACY = 0.1
# Bridged: the test loss below the short-memory baseline by more than this many standard errors of the
# test set's own sampling error (about 95% one-sided at 2).
BRIDGED_SE = 2.0
VERDICTS = ("solved", "bridged", "partial memory", "at chance", "diverged", "failed")
BROKEN = ("diverged", "failed")  # training broke down: no test number to average


def at_chance(frame: pd.DataFrame) -> pd.Series:
    """Cells whose loss and accuracy both sit at the chance level (see AT_CHANCE_RATIO)."""
    accuracy, chance = frame["accuracy"].astype(float), frame["chance_accuracy"].astype(float)
    near_chance = (accuracy - chance < AT_CHANCE_ACCURACY * (1 - chance)) | accuracy.isna()
    return (frame["loss_ratio"].astype(float) > AT_CHANCE_RATIO) & near_chance


def bridged(frame: pd.DataFrame) -> pd.Series:
    """Cells whose test loss beats the short-memory baseline (the best predictor blind to the inputs at
    the full span) by more than BRIDGED_SE standard errors, and that are not at chance: they carried
    information across the whole dependency."""
    loss, short = frame["loss"].astype(float), frame["short_memory_loss"].astype(float)
    beats = loss < short - BRIDGED_SE * frame["loss_se"].astype(float).fillna(float("inf"))
    return beats & ~at_chance(frame)


def verdicts(frame: pd.DataFrame) -> pd.Series:
    """What a cell shows about memory: solved, bridged, partial memory (beats chance, not short memory),
    at chance; or its status when training broke down (diverged, failed)."""
    import pandas as pd

    def one(row: pd.Series) -> str:
        if row["status"] in BROKEN and pd.isna(row["loss"]):
            return row["status"]
        if row["solved"]:
            return "solved"
        return "at chance" if row["at_chance"] else "bridged" if row["bridged"] else "partial memory"

    return frame.apply(one, axis=1) if len(frame) else pd.Series(dtype=str)
