"""Time mutual-information selection: scikit-learn against benchmark.selection.

Usage: python benchmarks/bench_selection.py [dataset ...]

For each embedded dataset (default: dbcd, dlbcl, gse4335) the script takes
the first training fold of a stratified 5-fold split, estimates mutual
information with both implementations on one thread, checks that the
estimates agree and that the same 64 features are selected, and prints the
times.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_selection import mutual_info_classif as sklearn_mi
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from benchmark.selection import mutual_info_classif

EMBEDDED = Path(__file__).resolve().parent.parent / "datasets" / "embedded"


def first_training_fold(name: str) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_csv(EMBEDDED / f"{name}.csv.gz")
    y = frame.pop("target").to_numpy()
    X = frame.drop(columns="sample_id").to_numpy()
    train, _ = next(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    return X[train], y[train]


def timed(function, *args, **kwargs) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main(names: list[str]) -> None:
    print(
        f"{'dataset':10} {'shape':>12} {'sklearn s':>10} {'ours s':>8} {'speed-up':>9}"
    )
    for name in names:
        X, y = first_training_fold(name)
        with threadpool_limits(1):
            reference, sklearn_seconds = timed(sklearn_mi, X, y, random_state=7)
            ours, our_seconds = timed(mutual_info_classif, X, y, random_state=7)
        difference = float(np.max(np.abs(reference - ours)))
        same_top = np.array_equal(
            np.sort(np.argsort(-reference, kind="stable")[:64]),
            np.sort(np.argsort(-ours, kind="stable")[:64]),
        )
        if difference > 1e-9 or not same_top:
            raise SystemExit(
                f"{name}: estimates differ by {difference:.3g}, same top 64: {same_top}"
            )
        shape = f"{X.shape[0]}x{X.shape[1]}"
        print(
            f"{name:10} {shape:>12} {sklearn_seconds:10.1f} {our_seconds:8.2f} "
            f"{sklearn_seconds / our_seconds:8.0f}x"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["dbcd", "dlbcl", "gse4335"])
