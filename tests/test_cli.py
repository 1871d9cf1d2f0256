"""End-to-end runs of the ``bench`` command on the embedded GSE7390 data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import main

FAST = [
    "--datasets",
    "gse7390",
    "--classifiers",
    "logreg",
    "--folds",
    "3",
    "--repeats",
    "1",
    "--no-progress",
]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "first"
    code = main(["run", "--samplers", "smote", "none", *FAST, "--output", str(run_dir)])
    assert code == 0
    return run_dir


def test_run_writes_run_directory(finished_run: Path) -> None:
    for name in ("scores.csv", "run.json", "leaderboard.txt", "failures.csv"):
        assert (finished_run / name).exists(), name


def test_scores_are_tidy_and_complete(finished_run: Path) -> None:
    scores = pd.read_csv(finished_run / "scores.csv")
    expected = {"dataset", "sampler", "classifier", "repeat", "fold", "metric", "value"}
    assert expected <= set(scores.columns)
    auc = scores[scores["metric"] == "auc"]
    assert len(auc) == 2 * 3
    assert auc["value"].between(0, 1).all()


def test_manifest_records_config_and_versions(finished_run: Path) -> None:
    manifest = json.loads((finished_run / "run.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["config"]["seed"] == 42
    assert manifest["versions"]["imbalanced-learn"] != "not installed"
    assert manifest["datasets"]["gse7390"]["shape"][0] == 198


def test_rerun_skips_finished_tasks(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = pd.read_csv(finished_run / "scores.csv")
    argv = ["run", "--samplers", "smote", "none", *FAST, "--output", str(finished_run)]
    code, out, _ = run_cli(argv, capsys)
    assert code == 0
    assert "0 task(s) run, 6 skipped" in out
    pd.testing.assert_frame_equal(before, pd.read_csv(finished_run / "scores.csv"))


def test_parallel_run_matches_serial_run(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "smote", "none", *FAST, "--output", str(tmp_path)]
    code, _, _ = run_cli([*argv, "--n-jobs", "2"], capsys)
    assert code == 0
    serial = pd.read_csv(finished_run / "scores.csv")
    parallel = pd.read_csv(tmp_path / "scores.csv")
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "latex", "html", "csv"])
def test_report_formats(
    finished_run: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["report", str(finished_run), "--format", fmt], capsys)
    assert code == 0
    assert "smote" in out


def test_report_unknown_metric_lists_present_ones(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["report", str(finished_run), "--metric", "nope"], capsys)
    assert code == 2
    assert "metric 'nope' is not in these scores" in err
    assert "auc" in err


def test_unknown_sampler_lists_valid_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "smoot", *FAST, "--output", str(tmp_path)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert "unknown sampler 'smoot'" in err
    assert "borderline-smote-1" in err


def test_unknown_dataset_lists_valid_names_and_suites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--datasets", "gse0000", "--output", str(tmp_path)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert "unknown dataset 'gse0000'" in err
    assert "omics (suite)" in err


def test_bad_sampler_parameter_syntax(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "smote:k_neighbors", *FAST, "--output", str(tmp_path)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert "expected key=value" in err


def test_failing_sampler_is_recorded_and_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GSE7390 has 51 metastasis cases, about 34 per training fold at 3 folds.
    argv = ["run", "--samplers", "smote:k_neighbors=60", "none", *FAST]
    with pytest.warns(Warning, match="needs at least 61 rows of a class"):
        code, out, _ = run_cli([*argv, "--output", str(tmp_path)], capsys)
    assert code == 0
    assert "3 failed" in out
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert set(failures["sampler"]) == {"smote:k_neighbors=60"}
    assert failures["error"].str.contains("n_neighbors").all()
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert set(scores["sampler"]) == {"none"}


def test_too_many_folds_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "none", "--datasets", "gse4335", "--folds", "12"]
    code, _, err = run_cli([*argv, "--output", str(tmp_path)], capsys)
    assert code == 2
    assert "class 'G1' has 11 sample(s), fewer than --folds 12" in err
    assert not (tmp_path / "results.sqlite").exists()


def test_missing_user_files_fail_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--datasets", "tcga", "--data-dir", str(tmp_path / "empty")]
    code, _, err = run_cli([*argv, "--output", str(tmp_path / "run")], capsys)
    assert code == 2
    assert "data files not found" in err
    assert "--data-dir" in err
    assert not (tmp_path / "run" / "results.sqlite").exists()


@pytest.mark.parametrize("kind", ["samplers", "datasets", "classifiers", "metrics"])
def test_list_prints_each_kind(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["list", kind], capsys)
    assert code == 0
    assert len(out.splitlines()) > 3


def test_list_datasets_shows_shape_and_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run_cli(["list", "datasets"], capsys)
    line = next(line for line in out.splitlines() if line.startswith("gse7390 "))
    assert "198x81" in line
    assert "metastasis 51" in line


def test_console_script_runs(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", "list", "classifiers"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "mlp" in completed.stdout


def test_plots_option_saves_training_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "leo-cvae:epochs=5", "none", *FAST, "--plots"]
    code, _, _ = run_cli([*argv, "--output", str(tmp_path)], capsys)
    assert code == 0
    plots = sorted(path.name for path in (tmp_path / "plots").iterdir())
    assert plots == [f"gse7390__leo-cvae_epochs=5__r0f{fold}.png" for fold in range(3)]


def test_resume_with_other_splits_is_refused(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "none", *FAST, "--seed", "7"]
    code, _, err = run_cli([*argv, "--output", str(finished_run)], capsys)
    assert code == 2
    assert "holds a run with other settings (seed 42 -> 7)" in err


def test_unknown_sampler_parameter_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "smote:bogus=1", *FAST, "--output", str(tmp_path)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert "sampler 'smote:bogus=1' cannot be built" in err
    assert not (tmp_path / "results.sqlite").exists()


def test_invalid_sampler_value_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "smote:k_neighbors=0", *FAST]
    code, _, err = run_cli([*argv, "--output", str(tmp_path)], capsys)
    assert code == 2
    assert "k_neighbors" in err
    assert not (tmp_path / "results.sqlite").exists()


def test_one_fold_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--folds", "1", "--output", str(tmp_path)])


def test_resume_counts_earlier_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--samplers", "smote:k_neighbors=60", *FAST]
    argv += ["--output", str(tmp_path)]
    with pytest.warns(Warning, match="needs at least 61 rows"):
        run_cli(argv, capsys)
    with pytest.warns(Warning, match="needs at least 61 rows"):
        code, out, _ = run_cli(argv, capsys)
    assert code == 0
    assert "3 skipped as already done (3 of them failed earlier" in out
