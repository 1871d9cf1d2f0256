"""Figures of the per-epoch training curves of a fitted LEOCVAE."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from sklearn.utils.validation import check_is_fitted

__all__ = ["plot_history"]


def plot_history(sampler, path: str | PathLike) -> Path:
    """Save the training curves of a fitted ``LEOCVAE`` as an image file.

    The figure has three panels, each with training and validation curves: the
    total loss, the reconstruction term and the KL term before the floor (with
    ``min_kl`` as a dashed line). A dotted vertical line marks the restored
    epoch. The file format follows the suffix of ``path`` (for example
    ``.png``, ``.pdf`` or ``.svg``).

    Parameters
    ----------
    sampler : LEOCVAE
        A sampler after ``fit_resample``.
    path : str or path-like
        Output file.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    sklearn.exceptions.NotFittedError
        When ``sampler`` has not been fitted.
    """
    check_is_fitted(sampler, "history_")
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plot_history needs matplotlib, which is not installed. Install it "
            "with: pip install 'oversampling-bench[plots]'"
        ) from exc

    history = sampler.history_
    panels = (
        ("loss", "Total loss"),
        ("reconstruction", "Reconstruction (weighted)"),
        ("kl", "KL divergence (before floor)"),
    )
    figure = Figure(figsize=(12, 3.6), layout="constrained")
    axes = figure.subplots(1, 3)
    for ax, (column, title) in zip(axes, panels, strict=True):
        ax.plot(history.index, history[f"train_{column}"], label="training")
        if history[f"val_{column}"].notna().any():
            ax.plot(history.index, history[f"val_{column}"], label="validation")
        if column == "kl":
            ax.axhline(sampler.min_kl, color="grey", linestyle="--", label="min_kl")
        if sampler.best_epoch_ > 0:
            ax.axvline(
                sampler.best_epoch_, color="black", linestyle=":", label="restored"
            )
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    path = Path(path)
    figure.savefig(path)
    return path
