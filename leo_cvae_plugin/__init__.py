"""LEO-CVAE: entropy-guided conditional VAE over-sampling for the benchmark.

Reference: Zare et al., "Uncertainty-Aware Generative Oversampling Using an
Entropy-Guided Conditional Variational Autoencoder", arXiv:2509.25334 (2025).

The public names are imported on first use, so that the benchmark can load
this package's plugin module without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leo_cvae_plugin._estimator import LEOCVAE
    from leo_cvae_plugin._plotting import plot_history
    from leo_cvae_plugin._training import NonFiniteLossError

__all__ = ["LEOCVAE", "NonFiniteLossError", "plot_history"]

_MODULES = {
    "LEOCVAE": "leo_cvae_plugin._estimator",
    "NonFiniteLossError": "leo_cvae_plugin._training",
    "plot_history": "leo_cvae_plugin._plotting",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'leo_cvae_plugin' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
