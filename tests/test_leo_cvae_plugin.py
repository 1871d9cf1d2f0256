"""Registration of the LEO-CVAE samplers and the training-curve figure."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import numpy as np
import pluggy
import pytest
import torch
from sklearn.exceptions import NotFittedError

from benchmark import hookspecs
from leo_cvae_plugin import LEOCVAE, plot_history
from leo_cvae_plugin import plugin as leo_plugin

NAMES = ("leo-cvae", "cvae", "leo-cvae-lewl-only", "leo-cvae-sampling-only")
VARIANTS = {
    "leo-cvae": (True, True, "seed"),
    "cvae": (False, False, "prior"),
    "leo-cvae-lewl-only": (True, False, "seed"),
    "leo-cvae-sampling-only": (False, True, "seed"),
}


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Tiny networks train several times faster on one thread than on two.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def specs():
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(leo_plugin)
    manager.check_pending()
    return {
        spec.name: spec
        for specs in manager.hook.bench_register_samplers()
        for spec in specs
    }


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(45, 4))
    y = np.repeat([0, 1], [33, 12])
    sampler = LEOCVAE(epochs=6, hidden_dim=8, latent_dim=2, random_state=0)
    # Module-scoped fixtures run before the function-scoped thread setting.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    sampler.fit_resample(X, y)
    torch.set_num_threads(previous)
    return sampler


def test_entry_point_declared():
    declared = {ep.name: ep.value for ep in entry_points(group=hookspecs.PROJECT)}

    assert declared.get("leo-cvae") == "leo_cvae_plugin.plugin"


def test_four_samplers_registered(specs):
    assert set(specs) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_spec_flags(specs, name):
    spec = specs[name]

    assert spec.uses_torch
    assert spec.can_use_gpu
    assert spec.supports_multiclass
    assert spec.needs_scaled_input
    assert spec.description
    # The benchmark chooses the device per task only when params leave it out.
    assert "device" not in spec.params


@pytest.mark.parametrize("name", NAMES)
def test_factory_builds_variant(specs, name):
    spec = specs[name]

    sampler = spec.factory(random_state=3, **{**spec.params, "device": "cpu"})

    weighted, guided, generation = VARIANTS[name]
    assert isinstance(sampler, LEOCVAE)
    assert sampler.random_state == 3
    assert sampler.device == "cpu"
    assert sampler.entropy_weighted_loss is weighted
    assert sampler.entropy_guided_sampling is guided
    assert sampler.generation == generation
    defaults = LEOCVAE().get_params()
    for key, value in spec.params.items():
        if key not in (
            "entropy_weighted_loss",
            "entropy_guided_sampling",
            "generation",
        ):
            assert value == defaults[key], key


@pytest.mark.parametrize("name", NAMES)
def test_min_class_size(specs, name):
    spec = specs[name]

    assert spec.min_class_size(spec.params) == 2
    assert spec.min_class_size({**spec.params, "validation_fraction": 0.0}) == 1


def test_factory_sampler_runs(specs):
    spec = specs["cvae"]
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = np.repeat([0, 1], [22, 8])
    params = {**spec.params, "epochs": 3, "device": "cpu"}

    X_out, y_out = spec.factory(random_state=0, **params).fit_resample(X, y)

    assert np.bincount(y_out).tolist() == [22, 22]
    assert np.isfinite(X_out).all()


def test_plot_history_writes_png(fitted, tmp_path):
    pytest.importorskip("matplotlib")

    written = plot_history(fitted, tmp_path / "curves.png")

    assert written == tmp_path / "curves.png"
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_history_without_matplotlib(fitted, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)

    with pytest.raises(ImportError, match=r"pip install 'oversampling-bench\[plots\]'"):
        plot_history(fitted, tmp_path / "curves.png")


def test_plot_history_needs_fitted_sampler(tmp_path):
    with pytest.raises(NotFittedError):
        plot_history(LEOCVAE(), tmp_path / "curves.png")
