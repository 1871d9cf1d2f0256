"""The LEO-CVAE over-sampler with an imbalanced-learn interface."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from imblearn.over_sampling.base import BaseOverSampler
from scipy import sparse
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from leo_cvae_plugin._entropy import local_entropy
from leo_cvae_plugin._loss import sample_weights
from leo_cvae_plugin._network import ConditionalVAE
from leo_cvae_plugin._sampler import draw_seeds, generate
from leo_cvae_plugin._training import (
    HISTORY_COLUMNS,
    NonFiniteLossError,
    TrainingSettings,
    train_network,
)

__all__ = ["LEOCVAE", "resolve_device"]

# Reconstruction weights above this make a non-finite loss more likely to come
# from gamma than from the data, so the error then names gamma. The default
# gamma of 2.5 gives weights of a few hundred at most for class ratios up to
# 1:50 (an estimate from c_j <= N / (C N_j) and (1 + H)^2.5 <= 2^2.5 for two
# classes).
LARGE_WEIGHT = 1e6


def resolve_device(device: str | torch.device) -> torch.device:
    """Return the torch device for ``device``, choosing one for ``"auto"``.

    ``"auto"`` picks CUDA when ``torch.cuda.is_available()`` and the CPU
    otherwise.

    Raises
    ------
    ValueError
        When the name is not a torch device, names a device type other than
        the CPU and CUDA, or names CUDA while ``torch.cuda.is_available()`` is
        False.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device. Use 'auto', 'cpu', "
            "'cuda' or 'cuda:<index>'."
        ) from exc
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device={device!r} is not supported: LEOCVAE trains on the CPU or on "
            "CUDA. Use 'auto', 'cpu', 'cuda' or 'cuda:<index>'."
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} requested, but torch.cuda.is_available() is False "
            "(a CPU-only torch build or no visible GPU). Use device='auto' or 'cpu'."
        )
    return resolved


class LEOCVAE(BaseOverSampler):
    """Over-sample with an entropy-guided conditional variational autoencoder.

    LEO-CVAE (Zare et al., 2025) trains a conditional VAE on the training data
    and decodes new minority samples from it. The Local Entropy Score ``H`` of
    each row is the class entropy (in bits) of its ``k_neighbors`` nearest
    neighbours. It weights the reconstruction loss towards uncertain regions,
    ``w_i = c_{y_i} * (1 + H_i) ** gamma`` with balanced class weights ``c``,
    and makes uncertain rows more likely seeds for generation, with probability
    proportional to ``(1 + H) ** gamma``.

    For every class ``j`` that ``sampling_strategy`` targets (by default all but
    the largest), ``n_j`` seeds are drawn with replacement from the real rows of
    class ``j``. Each seed is encoded with its label, ``z`` is drawn from the
    posterior and decoded with the same label. The output is the input rows,
    unchanged and in order, followed by the synthetic rows grouped by class.

    The estimator does not scale features. Pass standardised features, because
    distances for the entropy and the squared reconstruction error both assume
    comparable feature scales.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default='auto'
        How many samples to generate per class, as in imbalanced-learn. The
        default brings every class to the size of the largest.
    latent_dim : int, default=16
        Dimension of the latent space.
    hidden_dim : int, default=64
        Width of the first encoder layer and of the last decoder hidden layer.
        The inner layers have ``hidden_dim // 2`` units.
    epochs : int, default=500
        Maximum number of training epochs.
    batch_size : int, default=32
        Mini-batch size. The last batch of an epoch may be smaller.
    learning_rate : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=1e-5
        Adam L2 weight decay.
    patience : int, default=25
        Epochs without a validation-loss decrease of at least 1e-4 after which
        training stops.
    validation_fraction : float, default=0.2
        Fraction of the rows held out, stratified by class, for early stopping.
        With 0, or when a stratified split is impossible (a class with a
        single row, or fewer validation or training rows than classes), the
        network trains on all rows for ``epochs`` epochs and keeps the last
        weights.
    k_neighbors : int, default=15
        Neighbours for the Local Entropy Score. Clamped to ``n_samples - 1``.
    gamma : float, default=2.5
        Exponent of ``(1 + H)`` in the loss weights and the seed probabilities.
    beta : float, default=4.0
        Weight of the KL term.
    min_kl : float, default=0.1
        Floor of the KL term: the loss uses ``beta * max(L_KL, min_kl)``.
    entropy_weighted_loss : bool, default=True
        Use the entropy-weighted loss. With False every row has weight 1.
    entropy_guided_sampling : bool, default=True
        Draw seeds with probability proportional to ``(1 + H) ** gamma``. With
        False seeds are drawn uniformly. Ignored when ``generation="prior"``.
    generation : {"seed", "prior"}, default="seed"
        ``"seed"`` decodes posterior draws of real seed rows. ``"prior"``
        decodes ``z ~ N(0, I)`` with the class label, as a standard CVAE does.
    device : str, default="auto"
        Torch device. ``"auto"`` uses CUDA when available and the CPU otherwise.
        On the CPU the network trains with a NumPy engine with hand-written
        gradients, about 12 times faster per epoch than a textbook PyTorch
        loop. Elsewhere it trains with autograd.
    random_state : int, RandomState instance or None, default=None
        Seed for the validation split, network initialisation, batch order,
        dropout, latent draws and seed choice. On the CPU, the same integer
        gives the same output with the same torch and NumPy builds and thread
        counts. Repeatability on CUDA has not been tested.

    Attributes
    ----------
    sampling_strategy_ : dict
        Number of samples generated per targeted class.
    classes_ : ndarray of shape (n_classes,)
        Class labels present in ``y``, sorted.
    local_entropy_ : ndarray of shape (n_samples,)
        Local Entropy Score of every input row, in bits.
    k_neighbors_ : int
        Number of neighbours actually used for the entropy.
    n_generated_ : dict
        Number of synthetic rows for every class label, 0 for classes not
        over-sampled.
    seed_indices_ : ndarray of shape (n_synthetic,) or None
        Input row of each synthetic row's seed, in output order. None with
        ``generation="prior"``.
    history_ : pandas.DataFrame
        One row per epoch (index ``epoch``, from 1) with ``train_loss``,
        ``train_reconstruction``, ``train_kl``, ``val_loss``,
        ``val_reconstruction`` and ``val_kl``. Training values are means over
        batches weighted by batch size. KL values are before the floor.
        Validation values are NaN when no rows were held out.
    best_epoch_ : int
        Epoch whose weights were restored: the last epoch with a validation
        loss at least 1e-4 below every earlier one, or the last epoch trained
        without validation. 0 when nothing was generated and no network was
        trained.
    validation_size_ : int
        Number of rows held out for early stopping (0 without validation).
    kl_collapsed_ : bool
        Whether the KL term of the restored epoch (validation KL, or training
        KL without validation) is at or below ``min_kl``. When it is, the
        posterior has collapsed to the prior and the floor carries the KL term.
    device_ : str
        Device the network was trained on.
    model_ : ConditionalVAE or None
        The trained network, moved to the CPU.
    n_features_in_ : int
        Number of features seen during ``fit_resample``.

    Raises
    ------
    leo_cvae_plugin.NonFiniteLossError
        From ``fit_resample``, when a training or validation loss becomes NaN
        or infinite. The message names the epoch.

    References
    ----------
    .. [1] Zare, A. et al. "Uncertainty-Aware Generative Oversampling Using an
       Entropy-Guided Conditional Variational Autoencoder." arXiv:2509.25334
       (2025).
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_dim": [Interval(Integral, 2, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "k_neighbors": [Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "min_kl": [Interval(Real, 0, None, closed="left")],
        "entropy_weighted_loss": ["boolean"],
        "entropy_guided_sampling": ["boolean"],
        "generation": [StrOptions({"seed", "prior"})],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        latent_dim=16,
        hidden_dim=64,
        epochs=500,
        batch_size=32,
        learning_rate=1e-3,
        weight_decay=1e-5,
        patience=25,
        validation_fraction=0.2,
        k_neighbors=15,
        gamma=2.5,
        beta=4.0,
        min_kl=0.1,
        entropy_weighted_loss=True,
        entropy_guided_sampling=True,
        generation="seed",
        device="auto",
        random_state=None,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.k_neighbors = k_neighbors
        self.gamma = gamma
        self.beta = beta
        self.min_kl = min_kl
        self.entropy_weighted_loss = entropy_weighted_loss
        self.entropy_guided_sampling = entropy_guided_sampling
        self.generation = generation
        self.device = device
        self.random_state = random_state

    def save_training_plot(self, path):
        """Save the training curves (loss, reconstruction, KL) as an image.

        The same figure as :func:`leo_cvae_plugin.plot_history`; the benchmark
        calls this once per task when a run is started with ``--plots``.
        """
        from leo_cvae_plugin._plotting import plot_history

        return plot_history(self, path)

    def _fit_resample(self, X, y):
        if sparse.issparse(X):
            raise TypeError(
                "LEOCVAE needs dense features, but X is a sparse matrix. Convert "
                "it with X.toarray() first."
            )
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float64)
        device = resolve_device(self.device)
        self.device_ = str(device)

        self.classes_, y_codes = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        rng = check_random_state(self.random_state)
        split_seed, torch_seed, shuffle_seed, choice_seed = (
            int(s) for s in rng.randint(np.iinfo(np.int32).max, size=4)
        )

        self.local_entropy_, self.k_neighbors_ = local_entropy(
            X, y_codes, n_classes, self.k_neighbors
        )
        targets = {
            int(np.searchsorted(self.classes_, label)): int(n)
            for label, n in self.sampling_strategy_.items()
        }
        self.n_generated_ = {
            _plain(label): targets.get(code, 0)
            for code, label in enumerate(self.classes_)
        }
        n_synthetic = sum(targets.values())

        self.seed_indices_ = None
        if self.generation == "seed":
            self.seed_indices_ = np.empty(0, dtype=np.intp)
        if n_synthetic == 0:
            self._set_untrained_state()
            return X, y

        inputs = _float32_inputs(X, y_codes, n_classes)
        weights = sample_weights(
            y_codes,
            self.local_entropy_,
            n_classes,
            self.gamma,
            self.entropy_weighted_loss,
        )
        max_weight = float(weights.max())
        if not max_weight <= float(np.finfo(np.float32).max):
            raise ValueError(
                f"gamma={self.gamma} gives reconstruction weights up to "
                f"{max_weight:.3g}, beyond the float32 range (about 3.4e38) that "
                "LEOCVAE trains in. Use a smaller gamma (the default is 2.5)."
            )
        train_rows, val_rows = self._split_rows(y_codes, split_seed)
        self.validation_size_ = len(val_rows)

        codes = np.repeat(list(targets), list(targets.values()))
        # NOTE: the CUDA path is covered by a gpu-marked test that has not yet
        # run on a GPU machine.
        cuda_devices = [_cuda_index(device)] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(torch_seed)
            try:
                model = self._train(
                    inputs, weights, train_rows, val_rows, device, shuffle_seed
                )
            except NonFiniteLossError as exc:
                if max_weight <= LARGE_WEIGHT:
                    raise
                raise NonFiniteLossError(
                    f"{exc} The largest reconstruction weight is {max_weight:.3g} "
                    f"(gamma={self.gamma}), so a smaller gamma may keep the loss "
                    "finite."
                ) from exc
            synthetic = self._generate(
                model, inputs, y_codes, codes, targets, device, choice_seed
            )

        if not np.isfinite(synthetic).all():
            raise FloatingPointError(
                "LEO-CVAE decoded non-finite values although training losses were "
                "finite. Standardise the features or lower learning_rate."
            )
        with np.errstate(over="ignore"):
            synthetic = synthetic.astype(X.dtype, copy=False)
        if not np.isfinite(synthetic).all():
            raise FloatingPointError(
                f"LEO-CVAE decoded values beyond the range of X's dtype {X.dtype}. "
                "Pass X as float32 or float64."
            )

        self.model_ = model.cpu()
        X_resampled = np.vstack([X, synthetic])
        y_resampled = np.concatenate([y, self.classes_[codes].astype(y.dtype)])
        return X_resampled, y_resampled

    def _set_untrained_state(self) -> None:
        self.history_ = pd.DataFrame(
            columns=list(HISTORY_COLUMNS), index=pd.Index([], name="epoch"), dtype=float
        )
        self.best_epoch_ = 0
        self.validation_size_ = 0
        self.kl_collapsed_ = False
        self.model_ = None

    def _split_rows(
        self, y_codes: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        # Returns all rows and no validation rows when a stratified split with
        # validation_fraction is impossible.
        rows = np.arange(len(y_codes))
        n_classes = int(y_codes.max()) + 1
        n_val = math.ceil(self.validation_fraction * len(rows))
        counts = np.bincount(y_codes)
        feasible = (
            n_val > 0
            and counts.min() >= 2
            and n_val >= n_classes
            and len(rows) - n_val >= n_classes
        )
        if not feasible:
            return rows, rows[:0]
        train_rows, val_rows = train_test_split(
            rows, test_size=n_val, stratify=y_codes, random_state=seed
        )
        return np.sort(train_rows), np.sort(val_rows)

    def _train(
        self,
        inputs: torch.Tensor,
        weights: np.ndarray,
        train_rows: np.ndarray,
        val_rows: np.ndarray,
        device: torch.device,
        shuffle_seed: int,
    ) -> ConditionalVAE:
        n_features = self.n_features_in_
        n_classes = inputs.shape[1] - n_features
        model = ConditionalVAE(n_features, n_classes, self.hidden_dim, self.latent_dim)
        model.to(device)
        weights_t = torch.as_tensor(weights, dtype=torch.float32)
        on_device = {
            "train_inputs": inputs[train_rows].to(device),
            "train_weights": weights_t[train_rows].to(device),
            "val_inputs": inputs[val_rows].to(device) if len(val_rows) else None,
            "val_weights": weights_t[val_rows].to(device) if len(val_rows) else None,
        }
        settings = TrainingSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            patience=self.patience,
            beta=self.beta,
            min_kl=self.min_kl,
        )
        shuffle_generator = torch.Generator().manual_seed(shuffle_seed)
        result = train_network(
            model, settings=settings, shuffle_generator=shuffle_generator, **on_device
        )

        history = pd.DataFrame(result.history, columns=list(HISTORY_COLUMNS))
        history.index = pd.RangeIndex(1, len(history) + 1, name="epoch")
        self.history_ = history
        self.best_epoch_ = result.best_epoch
        kl_column = "val_kl" if len(val_rows) else "train_kl"
        self.kl_collapsed_ = bool(
            history.loc[self.best_epoch_, kl_column] <= self.min_kl
        )
        return model

    def _generate(
        self,
        model: ConditionalVAE,
        inputs: torch.Tensor,
        y_codes: np.ndarray,
        codes: np.ndarray,
        targets: dict[int, int],
        device: torch.device,
        choice_seed: int,
    ) -> np.ndarray:
        n_features = self.n_features_in_
        onehot = inputs[:, n_features:]
        synthetic_onehot = torch.zeros((len(codes), onehot.shape[1]))
        synthetic_onehot[np.arange(len(codes)), codes] = 1.0
        seeds = None
        if self.generation == "seed":
            choice_rng = np.random.default_rng(choice_seed)
            seed_rows = []
            for code, n_samples in targets.items():
                class_rows = np.flatnonzero(y_codes == code)
                seed_rows.append(
                    draw_seeds(
                        class_rows,
                        self.local_entropy_[class_rows],
                        n_samples,
                        self.gamma,
                        self.entropy_guided_sampling,
                        choice_rng,
                    )
                )
            self.seed_indices_ = np.concatenate(seed_rows)
            seeds = inputs[self.seed_indices_, :n_features].to(device)
        decoded = generate(model, synthetic_onehot.to(device), seeds)
        return decoded.cpu().numpy()


def _float32_inputs(X: np.ndarray, y_codes: np.ndarray, n_classes: int) -> torch.Tensor:
    # Returns [x, onehot] rows as float32 and rejects values float32 cannot hold.
    if np.abs(X).max() > np.finfo(np.float32).max:
        raise ValueError(
            "X contains values outside the float32 range (about +-3.4e38), which "
            "LEOCVAE trains in. Standardise the features first."
        )
    # np.array copies, because X may be a read-only view (pandas copy-on-write).
    features = torch.from_numpy(np.array(X, dtype=np.float32))
    onehot = torch.zeros((len(y_codes), n_classes))
    onehot[np.arange(len(y_codes)), y_codes] = 1.0
    return torch.cat((features, onehot), dim=1)


def _cuda_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def _plain(label):
    # numpy scalars become Python scalars, so n_generated_ prints cleanly.
    return label.item() if hasattr(label, "item") else label
