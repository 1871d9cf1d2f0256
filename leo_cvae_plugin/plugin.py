"""Registers the LEO-CVAE sampler and its ablations with the benchmark."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark import SamplerSpec, hookimpl

__all__ = ["bench_register_samplers"]

# Defaults of LEOCVAE, listed so that a run records every value it used.
# "device" is left out on purpose: the benchmark sets it per task for samplers
# with can_use_gpu, unless the user gives one.
_SHARED_PARAMS: dict[str, Any] = {
    "latent_dim": 16,
    "hidden_dim": 64,
    "epochs": 500,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "weight_decay": 1e-5,
    "patience": 25,
    "validation_fraction": 0.2,
    "k_neighbors": 15,
    "gamma": 2.5,
    "beta": 4.0,
    "min_kl": 0.1,
}

_VARIANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "leo-cvae",
        "LEO-CVAE: conditional VAE with the local-entropy-weighted loss and "
        "entropy-guided seed choice (Zare et al., arXiv:2509.25334).",
        {
            "entropy_weighted_loss": True,
            "entropy_guided_sampling": True,
            "generation": "seed",
        },
    ),
    (
        "cvae",
        "Standard conditional VAE: plain loss, new samples decoded from "
        "z ~ N(0, I) with the class label.",
        {
            "entropy_weighted_loss": False,
            "entropy_guided_sampling": False,
            "generation": "prior",
        },
    ),
    (
        "leo-cvae-lewl-only",
        "LEO-CVAE ablation: entropy-weighted loss, seeds drawn uniformly.",
        {
            "entropy_weighted_loss": True,
            "entropy_guided_sampling": False,
            "generation": "seed",
        },
    ),
    (
        "leo-cvae-sampling-only",
        "LEO-CVAE ablation: plain loss, seeds drawn with probability "
        "proportional to (1 + H) ** gamma.",
        {
            "entropy_weighted_loss": False,
            "entropy_guided_sampling": True,
            "generation": "seed",
        },
    ),
)


def _min_class_size(params: Mapping[str, Any]) -> int:
    # A stratified validation split needs 2 rows of every class. LEOCVAE would
    # train a 1-row class without early stopping, but the benchmark reports
    # such folds instead of running a different procedure silently.
    if params.get("validation_fraction", _SHARED_PARAMS["validation_fraction"]) == 0:
        return 1
    return 2


def _build(random_state: int | None = None, **params: Any) -> Any:
    # Imported here so that listing plugins or resuming a run skips torch.
    from leo_cvae_plugin._estimator import LEOCVAE

    return LEOCVAE(random_state=random_state, **params)


@hookimpl
def bench_register_samplers() -> list[SamplerSpec]:
    """Return the specs of ``leo-cvae``, ``cvae`` and the two ablations."""
    return [
        SamplerSpec(
            name=name,
            factory=_build,
            description=description,
            params={**_SHARED_PARAMS, **variant},
            supports_multiclass=True,
            uses_torch=True,
            can_use_gpu=True,
            needs_scaled_input=True,
            min_class_size=_min_class_size,
        )
        for name, description, variant in _VARIANTS
    ]
