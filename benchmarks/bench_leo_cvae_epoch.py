"""Time LEO-CVAE training per epoch against a plain DataLoader training loop.

Both loops train the same ``ConditionalVAE`` from the same initial weights on
the same rows, with the same hyperparameters and batch order. The plain loop
is the usual PyTorch idiom: ``TensorDataset`` and ``DataLoader``, autograd,
``clip_grad_norm_``, ``torch.optim.Adam``, per-batch ``.item()`` calls, a
validation pass through a second ``DataLoader`` and a ``copy.deepcopy`` of the
state dict on improvement. The fast loop is
``leo_cvae_plugin._training.train_network`` on the CPU, the NumPy engine that
``LEOCVAE`` uses there.

The script first checks that both loops compute the same per-epoch losses and
end with the same weights. For this check the fast loop takes its dropout
masks and latent draws from ``ModuleOrderNoise``, which makes the draws of the
module's forward pass. It then times both loops, the fast one with its default
noise source as ``LEOCVAE`` runs it, and a complete ``fit_resample``.

Data: the training part of the first stratified 5-fold split of
``datasets/embedded/gse7390.csv.gz`` of this repository, standardised, with
20 % of it held out for validation. Without that file it uses a synthetic
198 x 76 matrix with the same class counts (147 and 51) and says so in its
first line of output. ``--threads`` sets both torch's and the BLAS threads::

    python benchmarks/bench_leo_cvae_epoch.py --threads 1
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch.utils.data import DataLoader, Sampler, TensorDataset

from leo_cvae_plugin import LEOCVAE
from leo_cvae_plugin._entropy import local_entropy
from leo_cvae_plugin._loss import cvae_loss, sample_weights
from leo_cvae_plugin._network import ConditionalVAE
from leo_cvae_plugin._training import (
    MAX_GRAD_NORM,
    MIN_DELTA,
    ModuleOrderNoise,
    TrainingSettings,
    train_network,
)

DATA_FILE = Path(__file__).resolve().parents[1] / "datasets/embedded/gse7390.csv.gz"
SEED = 0
HIDDEN_DIM, LATENT_DIM = 64, 16
GAMMA = 2.5


def load_training_fold() -> tuple[np.ndarray, np.ndarray, str]:
    """Return the standardised training rows of fold 1, labels and data source."""
    if DATA_FILE.exists():
        table = pd.read_csv(DATA_FILE)
        X = table.drop(columns=["sample_id", "target"]).to_numpy(dtype=np.float64)
        y = np.unique(table["target"].to_numpy(), return_inverse=True)[1]
        source = f"{DATA_FILE} ({X.shape[0]} x {X.shape[1]})"
    else:
        rng = np.random.default_rng(SEED)
        y = np.r_[np.zeros(147, dtype=int), np.ones(51, dtype=int)]
        X = rng.normal(size=(len(y), 76)) + 0.5 * y[:, None]
        source = f"synthetic ({X.shape[0]} x {X.shape[1]}), {DATA_FILE} not found"
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    train_rows, _ = next(folds.split(X, y))
    X_train = StandardScaler().fit_transform(X[train_rows])
    return X_train, y[train_rows], source


def prepare_inputs(X: np.ndarray, y: np.ndarray) -> dict[str, torch.Tensor]:
    """Split 80/20 as LEOCVAE does and build [x, onehot] rows and LEWL weights."""
    n_classes = int(y.max()) + 1
    entropy, _ = local_entropy(X, y, n_classes, k=15)
    weights = sample_weights(y, entropy, n_classes, GAMMA, entropy_weighted=True)
    rows = np.arange(len(y))
    train_rows, val_rows = train_test_split(
        rows, test_size=math.ceil(0.2 * len(y)), stratify=y, random_state=SEED
    )
    onehot = np.eye(n_classes)[y]
    inputs = torch.as_tensor(np.hstack([X, onehot]), dtype=torch.float32)
    weights_t = torch.as_tensor(weights, dtype=torch.float32)
    return {
        "train_inputs": inputs[np.sort(train_rows)],
        "train_weights": weights_t[np.sort(train_rows)],
        "val_inputs": inputs[np.sort(val_rows)],
        "val_weights": weights_t[np.sort(val_rows)],
        "n_features": X.shape[1],
        "n_classes": n_classes,
    }


def new_model(data: dict) -> ConditionalVAE:
    torch.manual_seed(SEED)
    return ConditionalVAE(data["n_features"], data["n_classes"], HIDDEN_DIM, LATENT_DIM)


def settings_for(epochs: int) -> TrainingSettings:
    # patience is larger than epochs, so both loops run every epoch.
    return TrainingSettings(
        epochs=epochs,
        batch_size=32,
        learning_rate=1e-3,
        weight_decay=1e-5,
        patience=epochs + 1,
        beta=4.0,
        min_kl=0.1,
    )


class PermutationSampler(Sampler[int]):
    """Yield ``torch.randperm(n, generator=generator)``, one permutation per epoch.

    ``DataLoader(shuffle=True)`` uses a ``RandomSampler``, which draws the same
    permutation but also a second, discarded one per epoch, and draws the
    loader's base seed from the same generator. The batches are the same
    either way. This sampler keeps the generator in step with
    ``train_network``, so the equality check can compare losses batch for
    batch. It costs the same per epoch as ``RandomSampler``.
    """

    def __init__(self, n: int, generator: torch.Generator) -> None:
        self.n = n
        self.generator = generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


def plain_loop(
    model: ConditionalVAE, data: dict, settings: TrainingSettings
) -> list[list[float]]:
    """Train with TensorDataset, DataLoader and autograd and return per-epoch losses."""
    d = data["n_features"]
    train_x = data["train_inputs"][:, :d]
    train_c = data["train_inputs"][:, d:]
    val_x = data["val_inputs"][:, :d]
    val_c = data["val_inputs"][:, d:]
    train_set = TensorDataset(train_x, train_c, data["train_weights"])

    loader = DataLoader(
        train_set,
        batch_size=settings.batch_size,
        sampler=PermutationSampler(len(train_set), torch.Generator().manual_seed(SEED)),
        generator=torch.Generator().manual_seed(SEED + 1),
        drop_last=False,
    )
    # Without its own generator, each pass over a DataLoader draws a base seed
    # from torch's global generator, which would shift the dropout masks.
    val_loader = DataLoader(
        TensorDataset(val_x, val_c, data["val_weights"]),
        batch_size=len(val_x),
        generator=torch.Generator().manual_seed(SEED + 1),
    )

    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=settings.learning_rate,
        weight_decay=settings.weight_decay,
    )
    history = []
    best_loss, best_state = math.inf, None

    for _ in range(settings.epochs):
        model.train()
        totals = [0.0, 0.0, 0.0]
        for x, c, w in loader:
            optimizer.zero_grad()
            x_hat, mu, logvar = model(x, c)
            loss, reconstruction, kl = cvae_loss(
                x_hat, x, mu, logvar, w, settings.beta, settings.min_kl
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            for i, value in enumerate((loss, reconstruction, kl)):
                totals[i] += value.item() * len(x)

        model.eval()
        with torch.no_grad():
            for x, c, w in val_loader:
                x_hat, mu, logvar = model(x, c)
                val = cvae_loss(x_hat, x, mu, logvar, w, settings.beta, settings.min_kl)

        record = [t / len(train_set) for t in totals] + [v.item() for v in val]
        history.append(record)
        if record[3] < best_loss - MIN_DELTA:
            best_loss = record[3]
            best_state = copy.deepcopy(model.state_dict())

    model.load_state_dict(best_state)
    return history


def fast_loop(
    model: ConditionalVAE,
    data: dict,
    settings: TrainingSettings,
    noise: ModuleOrderNoise | None = None,
) -> list[list[float]]:
    """Train with train_network and return per-epoch losses.

    Without ``noise``, the masks and ``eps`` come from the default
    ``DropoutNoise``, as in ``LEOCVAE``.
    """
    result = train_network(
        model,
        data["train_inputs"],
        data["train_weights"],
        data["val_inputs"],
        data["val_weights"],
        settings,
        torch.Generator().manual_seed(SEED),
        noise=noise,
    )
    return result.history


def check_same_losses(data: dict, epochs: int) -> float:
    """Assert that both loops compute the same losses and weights.

    Returns the maximum relative difference between their per-epoch losses.
    """
    settings = settings_for(epochs)
    results = []
    loops = (plain_loop, lambda *args: fast_loop(*args, noise=ModuleOrderNoise()))
    for loop in loops:
        model = new_model(data)
        torch.manual_seed(SEED + 2)  # seeds the dropout masks and eps
        history = loop(model, data, settings)
        results.append((np.array(history), model.state_dict()))
    (plain_history, plain_state), (fast_history, fast_state) = results
    np.testing.assert_allclose(fast_history, plain_history, rtol=1e-3, atol=1e-5)
    for name, tensor in plain_state.items():
        torch.testing.assert_close(fast_state[name], tensor, rtol=1e-3, atol=1e-5)
    return float(np.max(np.abs(fast_history - plain_history) / np.abs(plain_history)))


def time_loops(data: dict, epochs: int, repeats: int) -> dict[str, list[float]]:
    """Return per-epoch wall times in ms, alternating the loops in each repeat."""
    settings = settings_for(epochs)
    times: dict[str, list[float]] = {"plain": [], "fast": []}
    for _ in range(repeats):
        for name, loop in (("plain", plain_loop), ("fast", fast_loop)):
            model = new_model(data)
            torch.manual_seed(SEED + 2)
            start = time.perf_counter()
            loop(model, data, settings)
            times[name].append((time.perf_counter() - start) / epochs * 1e3)
    return times


def time_fit_resample(X: np.ndarray, y: np.ndarray, repeats: int) -> list[dict]:
    """Time LEOCVAE().fit_resample with default parameters on the training fold."""
    runs = []
    for repeat in range(repeats):
        sampler = LEOCVAE(random_state=SEED + repeat, device="cpu")
        start = time.perf_counter()
        X_out, _ = sampler.fit_resample(X, y)
        runs.append(
            {
                "seconds": time.perf_counter() - start,
                "epochs": len(sampler.history_),
                "best_epoch": sampler.best_epoch_,
                "generated": sum(sampler.n_generated_.values()),
            }
        )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op and BLAS threads (default 1)",
    )
    parser.add_argument(
        "--epochs", type=int, default=40, help="epochs per timed run (default 40)"
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs per loop (default 7)"
    )
    parser.add_argument(
        "--check-epochs",
        type=int,
        default=20,
        help="epochs of the equality check (default 20)",
    )
    parser.add_argument(
        "--fit-repeats",
        type=int,
        default=3,
        help="fit_resample runs, each with another seed (default 3)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        return run(args)


def run(args: argparse.Namespace) -> int:
    """Run the check and the timings with the parsed arguments."""

    X, y, source = load_training_fold()
    data = prepare_inputs(X, y)
    n_train, n_val = len(data["train_inputs"]), len(data["val_inputs"])
    print(f"data: {source}")
    print(
        f"training fold: {len(y)} rows x {X.shape[1]} features, class counts "
        f"{np.bincount(y).tolist()}; CVAE training rows {n_train}, validation "
        f"rows {n_val}, batch size 32"
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} torch and "
        f"{args.threads} BLAS thread(s)"
    )

    max_diff = check_same_losses(data, args.check_epochs)
    print(
        f"equality check: {args.check_epochs} epochs, per-epoch losses and final "
        f"weights agree (max relative loss difference {max_diff:.1e})"
    )

    times = time_loops(data, args.epochs, args.repeats)
    print()
    print(f"per-epoch time over {args.epochs} epochs, {args.repeats} runs each (ms)")
    print(f"{'loop':<28}{'min':>8}{'median':>9}{'max':>8}")
    for name, label in (
        ("plain", "plain DataLoader + autograd"),
        ("fast", "train_network"),
    ):
        values = times[name]
        print(
            f"{label:<28}{min(values):>8.2f}{statistics.median(values):>9.2f}"
            f"{max(values):>8.2f}"
        )
    speedup_min = min(times["plain"]) / min(times["fast"])
    speedup_median = statistics.median(times["plain"]) / statistics.median(
        times["fast"]
    )
    print(f"speedup: {speedup_min:.1f}x (min), {speedup_median:.1f}x (median)")

    runs = time_fit_resample(X, y, args.fit_repeats)
    print()
    print("LEOCVAE(device='cpu').fit_resample with default parameters on the fold")
    print(f"{'seed':>4}{'seconds':>9}{'epochs':>8}{'best':>6}{'generated':>11}")
    for repeat, run in enumerate(runs):
        print(
            f"{SEED + repeat:>4}{run['seconds']:>9.2f}{run['epochs']:>8}"
            f"{run['best_epoch']:>6}{run['generated']:>11}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
