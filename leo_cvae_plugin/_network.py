"""The conditional variational autoencoder of LEO-CVAE.

Architecture from Zare et al., "Uncertainty-Aware Generative Oversampling Using an
Entropy-Guided Conditional Variational Autoencoder", arXiv:2509.25334 (2025).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "DROPOUT",
    "LOGVAR_MAX",
    "LOGVAR_MIN",
    "NEGATIVE_SLOPE",
    "ConditionalVAE",
]

NEGATIVE_SLOPE = 0.2
DROPOUT = 0.1

# The encoder's log-variance is clamped to this range before it is used, so that
# exp(logvar) stays below 5e8 and cannot overflow float32 (limit about 3.4e38).
LOGVAR_MIN = -20.0
LOGVAR_MAX = 20.0


class ConditionalVAE(nn.Module):
    """Encoder and decoder, both conditioned on the one-hot class label.

    Encoder: ``Linear(d + C, h)``, LeakyReLU(0.2), Dropout(0.1),
    ``Linear(h, h // 2)``, LeakyReLU(0.2), Dropout(0.1), then two heads
    ``Linear(h // 2, z)`` for the mean and the log-variance. Decoder:
    ``Linear(z + C, h // 2)``, LeakyReLU(0.2), Dropout(0.1), ``Linear(h // 2, h)``,
    LeakyReLU(0.2), Dropout(0.1), ``Linear(h, d)`` with no output activation.

    Parameters
    ----------
    n_features : int
        Number of input features ``d``.
    n_classes : int
        Number of classes ``C`` (length of the one-hot label).
    hidden_dim : int
        Width ``h`` of the first encoder layer. The second layer has ``h // 2``
        units, so ``hidden_dim`` must be at least 2.
    latent_dim : int
        Dimension ``z`` of the latent space.
    """

    def __init__(
        self, n_features: int, n_classes: int, hidden_dim: int, latent_dim: int
    ) -> None:
        super().__init__()
        half = hidden_dim // 2
        self.n_features = n_features
        self.n_classes = n_classes
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Linear(n_features + n_classes, hidden_dim),
            nn.LeakyReLU(NEGATIVE_SLOPE),
            nn.Dropout(DROPOUT),
            nn.Linear(hidden_dim, half),
            nn.LeakyReLU(NEGATIVE_SLOPE),
            nn.Dropout(DROPOUT),
        )
        self.mu_head = nn.Linear(half, latent_dim)
        self.logvar_head = nn.Linear(half, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim + n_classes, half),
            nn.LeakyReLU(NEGATIVE_SLOPE),
            nn.Dropout(DROPOUT),
            nn.Linear(half, hidden_dim),
            nn.LeakyReLU(NEGATIVE_SLOPE),
            nn.Dropout(DROPOUT),
            nn.Linear(hidden_dim, n_features),
        )

    def encode(
        self, x: torch.Tensor, onehot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior mean and the clamped log-variance of ``(x, label)``."""
        hidden = self.encoder(torch.cat((x, onehot), dim=1))
        logvar = self.logvar_head(hidden).clamp(LOGVAR_MIN, LOGVAR_MAX)
        return self.mu_head(hidden), logvar

    def decode(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """Map latent codes and one-hot labels back to feature space."""
        return self.decoder(torch.cat((z, onehot), dim=1))

    def forward(
        self, x: torch.Tensor, onehot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw ``z = mu + eps * exp(logvar / 2)`` and decode.

        ``eps`` comes from torch's global random number generator, like the
        dropout masks. Returns the reconstruction, ``mu`` and ``logvar``.
        """
        mu, logvar = self.encode(x, onehot)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z, onehot), mu, logvar
