"""Entropy-guided seed choice and decoding of synthetic samples."""

from __future__ import annotations

import numpy as np
import torch

from leo_cvae_plugin._network import ConditionalVAE

__all__ = ["draw_seeds", "generate", "seed_probabilities"]


def seed_probabilities(entropy: np.ndarray, gamma: float, guided: bool) -> np.ndarray:
    """Return the probability of each row being drawn as a seed.

    With ``guided`` the probability is proportional to ``(1 + H) ** gamma``,
    otherwise it is uniform.
    """
    if not guided:
        return np.full(len(entropy), 1.0 / len(entropy))
    # (1 + H)^gamma normalised in log space, which stays finite for any gamma.
    log_scores = gamma * np.log1p(entropy)
    scores = np.exp(log_scores - log_scores.max())
    return scores / scores.sum()


def draw_seeds(
    class_rows: np.ndarray,
    entropy: np.ndarray,
    n_samples: int,
    gamma: float,
    guided: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw ``n_samples`` seed rows with replacement from ``class_rows``.

    ``class_rows`` are row positions of one class and ``entropy`` their local
    entropy. Returns row positions taken from ``class_rows``.
    """
    probabilities = seed_probabilities(entropy, gamma, guided)
    return rng.choice(class_rows, size=n_samples, replace=True, p=probabilities)


@torch.no_grad()
def generate(
    model: ConditionalVAE,
    onehot: torch.Tensor,
    seeds: torch.Tensor | None,
) -> torch.Tensor:
    """Decode one synthetic sample per row of ``onehot``.

    With ``seeds`` (the seed rows' features), each seed is encoded with its
    label, ``z = mu + eps * exp(logvar / 2)`` is drawn and decoded with the
    same label. Without seeds, ``z`` is drawn from N(0, I), which is generation
    from the prior of a standard CVAE. Dropout is off in both cases. ``eps``
    and ``z`` come from torch's global generator.
    """
    model.eval()
    if seeds is None:
        z = torch.randn(
            (onehot.shape[0], model.latent_dim),
            dtype=onehot.dtype,
            device=onehot.device,
        )
    else:
        mu, logvar = model.encode(seeds, onehot)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    return model.decode(z, onehot)
