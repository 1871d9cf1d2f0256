"""The Local Entropy-Weighted Loss (LEWL) and the per-sample weights it uses."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["balanced_class_weights", "cvae_loss", "sample_weights"]


def balanced_class_weights(y_codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Return ``c_j = N / (C * N_j)`` for the class codes ``0 .. n_classes - 1``.

    ``C`` counts the classes that occur in ``y_codes``, so a class that is
    missing from a fold neither gets a weight nor dilutes the others. Its entry
    is 0 and is never used, because no row carries that code.
    """
    counts = np.bincount(y_codes, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(y_codes) / (present.sum() * counts[present])
    return weights


def sample_weights(
    y_codes: np.ndarray,
    entropy: np.ndarray,
    n_classes: int,
    gamma: float,
    entropy_weighted: bool,
) -> np.ndarray:
    """Return the reconstruction weight of every row.

    With ``entropy_weighted`` the weight is ``c_{y_i} * (1 + H_i) ** gamma``;
    without it every weight is 1 (the plain CVAE loss).
    """
    if not entropy_weighted:
        return np.ones(len(y_codes))
    class_weights = balanced_class_weights(y_codes, n_classes)
    # A huge gamma overflows to inf, which LEOCVAE reports as an invalid gamma.
    with np.errstate(over="ignore"):
        return class_weights[y_codes] * (1.0 + entropy) ** gamma


def cvae_loss(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
    min_kl: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Compute the LEWL objective of one batch.

    ``L = mean_i(w_i * r_i) + beta * max(L_KL, min_kl)`` with
    ``r_i = sum_f (x_hat - x) ** 2`` and
    ``L_KL = mean_i(-0.5 * sum_z(1 + logvar - mu ** 2 - exp(logvar)))``.

    Returns
    -------
    loss, reconstruction, kl : torch.Tensor
        Zero-dimensional tensors. ``kl`` is the KL term before the floor, so
        a value below ``min_kl`` shows that the floor was active. While it is,
        the KL term contributes no gradient.
    """
    squared_error = (x_hat - x).pow(2).sum(dim=1)
    reconstruction = (weights * squared_error).mean()
    kl = (-0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
    loss = reconstruction + beta * torch.clamp(kl, min=min_kl)
    return loss, reconstruction, kl
