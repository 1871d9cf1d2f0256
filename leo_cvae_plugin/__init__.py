"""LEO-CVAE: entropy-guided conditional VAE over-sampling for the benchmark.

Reference: Zare et al., "Uncertainty-Aware Generative Oversampling Using an
Entropy-Guided Conditional Variational Autoencoder", arXiv:2509.25334 (2025).
"""

from leo_cvae_plugin._estimator import LEOCVAE
from leo_cvae_plugin._plotting import plot_history
from leo_cvae_plugin._training import NonFiniteLossError

__all__ = ["LEOCVAE", "NonFiniteLossError", "plot_history"]
