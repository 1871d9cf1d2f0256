"""The small torch MLP classifier that LEO-CVAE was evaluated with."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import label_binarize
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data
from torch import nn

__all__ = ["TorchMLPClassifier", "resolve_device"]


def resolve_device(device: str) -> torch.device:
    """Map ``"auto"`` to CUDA when available and to the CPU otherwise."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch finds no CUDA device. "
            "Use device='auto' or device='cpu'."
        )
    return resolved


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """One-hidden-layer MLP with early stopping on an inner validation split.

    Architecture: Linear(d, hidden) -> BatchNorm -> ReLU -> Dropout -> Linear
    (hidden, n_classes), trained with cross-entropy, Adam, gradient-norm
    clipping and a learning rate reduced on plateaus of the validation AUC.
    Early stopping watches the ROC AUC (micro-averaged one-vs-rest for more
    than two classes) on ``validation_fraction`` of the training data, split
    off stratified. The test fold is never used. The weights of the best
    validation epoch are restored from a deep copy.

    When a class has fewer than two rows the validation split is impossible;
    the model then trains for ``max_epochs`` without early stopping, and
    ``early_stopping_`` is False.

    Parameters
    ----------
    hidden_units : int, default=32
    dropout : float, default=0.5
    learning_rate : float, default=1e-4
    weight_decay : float, default=1e-3
    batch_size : int, default=32
    max_epochs : int, default=200
    patience : int, default=20
        Epochs without a validation AUC improvement before training stops.
    lr_patience : int, default=5
        Epochs without improvement before the learning rate is multiplied by
        ``lr_factor``.
    lr_factor : float, default=0.7
    clip_norm : float, default=0.5
    validation_fraction : float, default=0.2
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None

    References
    ----------
    Zare et al., "Uncertainty-Aware Generative Oversampling Using an
    Entropy-Guided Conditional Variational Autoencoder", arXiv:2509.25334, 2025
    (the evaluation classifier and its hyperparameters).
    """

    def __init__(
        self,
        hidden_units: int = 32,
        dropout: float = 0.5,
        learning_rate: float = 1e-4,
        weight_decay: float = 1e-3,
        batch_size: int = 32,
        max_epochs: int = 200,
        patience: int = 20,
        lr_patience: int = 5,
        lr_factor: float = 0.7,
        clip_norm: float = 0.5,
        validation_fraction: float = 0.2,
        device: str = "auto",
        random_state: Any = None,
    ) -> None:
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        self.clip_norm = clip_norm
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> TorchMLPClassifier:
        X, y = validate_data(self, X, y, dtype=np.float32)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"TorchMLPClassifier needs at least two classes, got {self.classes_}."
            )
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        torch_generator = torch.Generator().manual_seed(seed)
        device = resolve_device(self.device)
        self.device_ = str(device)

        X_fit, X_val, y_fit, y_val = self._split(X, y_codes, seed)
        self.early_stopping_ = X_val is not None

        torch.manual_seed(seed)
        n_classes = len(self.classes_)
        network = nn.Sequential(
            nn.Linear(X.shape[1], self.hidden_units),
            nn.BatchNorm1d(self.hidden_units),
            nn.ReLU(),
            nn.Dropout(self.dropout),
            nn.Linear(self.hidden_units, n_classes),
        ).to(device)
        optimizer = torch.optim.Adam(
            network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=self.lr_factor, patience=self.lr_patience
        )
        loss_function = nn.CrossEntropyLoss()

        inputs = torch.as_tensor(X_fit, device=device)
        targets = torch.as_tensor(y_fit, dtype=torch.long, device=device)
        best_score, best_state, best_epoch, stale = -np.inf, None, 0, 0
        for epoch in range(self.max_epochs):
            network.train()
            order = torch.randperm(len(inputs), generator=torch_generator).to(device)
            for start in range(0, len(inputs), self.batch_size):
                batch = order[start : start + self.batch_size]
                if len(batch) < 2:
                    # Batch norm cannot normalise a single row in training mode.
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = loss_function(network(inputs[batch]), targets[batch])
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), self.clip_norm)
                optimizer.step()

            if not self.early_stopping_:
                continue
            score = self._validation_auc(network, X_val, y_val, n_classes, device)
            scheduler.step(score)
            if score > best_score + 1e-4:
                best_score, best_epoch, stale = score, epoch, 0
                best_state = copy.deepcopy(network.state_dict())
            else:
                stale += 1
                if stale >= self.patience:
                    break

        if best_state is not None:
            network.load_state_dict(best_state)
        network.eval()
        self.network_ = network
        self.best_epoch_ = best_epoch if self.early_stopping_ else self.max_epochs - 1
        self.best_validation_auc_ = best_score if self.early_stopping_ else np.nan
        self.n_epochs_ = epoch + 1
        return self

    def _split(self, X: np.ndarray, y: np.ndarray, seed: int) -> tuple:
        counts = np.bincount(y)
        n_val = int(np.ceil(self.validation_fraction * len(y)))
        if counts.min() < 2 or n_val < len(counts) or len(y) - n_val < len(counts):
            return X, None, y, None
        return train_test_split(
            X, y, test_size=self.validation_fraction, stratify=y, random_state=seed
        )

    @staticmethod
    def _validation_auc(
        network: nn.Module,
        X_val: np.ndarray,
        y_val: np.ndarray,
        n_classes: int,
        device: torch.device,
    ) -> float:
        network.eval()
        with torch.no_grad():
            logits = network(torch.as_tensor(X_val, device=device))
            proba = torch.softmax(logits, dim=1).cpu().numpy()
        if n_classes == 2:
            return float(roc_auc_score(y_val, proba[:, 1]))
        y_onehot = label_binarize(y_val, classes=np.arange(n_classes))
        return float(roc_auc_score(y_onehot, proba, average="micro"))

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        device = next(self.network_.parameters()).device
        with torch.no_grad():
            logits = self.network_(torch.as_tensor(X, device=device))
            return torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
