"""A minimal over-sampler: noisy copies of randomly chosen rows."""

from numbers import Real

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils import check_random_state


class GaussianJitter(BaseOverSampler):
    """Over-sample by copying random rows of a class and adding Gaussian noise.

    The noise on feature j has standard deviation ``noise`` times the standard
    deviation of feature j within the class, so features on any scale work.
    BaseOverSampler validates the input, computes ``sampling_strategy_`` (the
    rows to generate per class) and returns pandas input as pandas.
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "noise": [Real],
        "random_state": ["random_state"],
    }

    def __init__(self, *, sampling_strategy="auto", noise=0.1, random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.noise = noise
        self.random_state = random_state

    def _fit_resample(self, X, y):
        if self.noise < 0:
            raise ValueError(f"noise must be at least 0, got {self.noise}.")
        rng = check_random_state(self.random_state)
        X_parts, y_parts = [X], [y]
        for code, n_new in self.sampling_strategy_.items():
            rows = X[y == code]
            picks = rng.randint(len(rows), size=n_new)
            noise = rng.normal(size=(n_new, X.shape[1])) * self.noise * rows.std(axis=0)
            X_parts.append((rows[picks] + noise).astype(X.dtype, copy=False))
            y_parts.append(np.full(n_new, code, dtype=y.dtype))
        # The input rows come first and unchanged, because the harness relies on it.
        return np.vstack(X_parts), np.concatenate(y_parts)
