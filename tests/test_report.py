"""Tests of ``bench report``: input checks, formats, marks and diagrams.

Every test writes a small synthetic tidy table to ``tmp_path``, so none of
them trains a model.
"""

from __future__ import annotations

import csv
import itertools
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.errors import ConfigurationError
from benchmark.evaluation import TaskResult
from benchmark.plugins import load_registry
from benchmark.report import (
    build_leaderboards,
    read_failures,
    read_scores,
    render_report,
    write_cd_diagram,
    write_outputs,
)
from benchmark.store import ResultStore

TEXT_FORMATS = ["terminal", "markdown", "latex", "html"]
# Mean shift of each sampler over the baseline: one clearly better, one
# clearly worse and one equivalent, so that the marks are predictable.
SHIFTS = {"none": 0.0, "smote": 0.05, "adasyn": 0.001, "broken_sampler": -0.05}


def tidy_scores(
    n_datasets: int = 3,
    shifts: dict[str, float] | None = None,
    *,
    n_repeats: int = 2,
    n_folds: int = 3,
    noise: float = 0.004,
    seed: int = 0,
) -> pd.DataFrame:
    """Build a complete scores table of one classifier and the metric auc."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset, (sampler, shift), repeat, fold in itertools.product(
        range(n_datasets),
        (shifts or SHIFTS).items(),
        range(n_repeats),
        range(n_folds),
    ):
        rows.append(
            {
                "dataset": f"ds{dataset}",
                "sampler": sampler,
                "classifier": "logreg",
                "repeat": repeat,
                "fold": fold,
                "metric": "auc",
                "value": 0.7 + 0.02 * dataset + shift + rng.normal(0, noise),
                "note": "",
            }
        )
    return pd.DataFrame(rows)


def write_scores(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def run_report(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple:
    code = main(["report", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flat(text: str) -> str:
    """Join the wrapped lines of terminal text, so phrases match across breaks."""
    return " ".join(text.split())


def has_nan(text: str) -> bool:
    return re.search(r"\bnan\b", text, flags=re.IGNORECASE) is not None


@pytest.fixture
def scores_csv(tmp_path: Path) -> Path:
    return write_scores(tidy_scores(), tmp_path / "scores.csv")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """Build a run directory with one missing score and one failed task."""
    directory = tmp_path / "run"
    directory.mkdir()
    (directory / "run.json").write_text("{}")

    scores = tidy_scores()
    undefined = (
        (scores["dataset"] == "ds1")
        & (scores["sampler"] == "adasyn")
        & (scores["repeat"] == 1)
        & (scores["fold"] == 2)
    )
    scores.loc[undefined, "value"] = np.nan
    scores.loc[undefined, "note"] = "only one class in the test fold"
    failed = (
        (scores["dataset"] == "ds2")
        & (scores["sampler"] == "smote")
        & (scores["repeat"] == 0)
        & (scores["fold"] == 1)
    )
    scores[~failed].to_csv(directory / "scores.csv", index=False)

    failures = pd.DataFrame(
        [
            {
                "dataset": "ds2",
                "sampler": "smote",
                "classifier": "logreg",
                "repeat": 0,
                "fold": 1,
                "seed": 7,
                "error": "ValueError: Expected n_neighbors <= n_samples_fit\nmore",
            }
        ]
    )
    failures.to_csv(directory / "failures.csv", index=False)
    return directory


@pytest.fixture
def agg_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any pyplot import in the process pick the Agg backend."""
    monkeypatch.setenv("MPLBACKEND", "Agg")


# Input


def test_read_scores_from_run_directory(run_dir: Path) -> None:
    scores = read_scores(run_dir)
    assert len(scores) == 4 * 3 * 6 - 1
    assert scores["value"].isna().sum() == 1


def test_read_failures_from_run_directory(run_dir: Path) -> None:
    failures = read_failures(run_dir / "scores.csv")
    assert failures[["dataset", "sampler"]].values.tolist() == [["ds2", "smote"]]


def test_read_failures_of_plain_csv(scores_csv: Path) -> None:
    assert read_failures(scores_csv).empty


def test_csv_from_another_tool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Columns in another order, an extra column, no note, "NA" for a missing
    # score and labels that pandas would read as numbers.
    path = tmp_path / "other.csv"
    header = ["metric", "value", "fold", "repeat", "classifier", "sampler"]
    header += ["dataset", "runtime_s"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for dataset, sampler, fold in itertools.product(
            ("101", "102"), ("a", "b", "c"), range(4)
        ):
            value = "NA" if (dataset, sampler, fold) == ("102", "c", 3) else 0.5
            value = value if sampler != "b" or value == "NA" else 0.6 + fold / 100
            writer.writerow(["f1", value, fold, 0, "svm", sampler, dataset, 1.5])
    code, out, _ = run_report([str(path), "--metric", "f1"], capsys)
    assert code == 0
    assert "f1, classifier svm" in out
    assert "0.615 ± 0.013 (1)" in out
    assert "[3/4]" in out
    assert not has_nan(out)


def test_missing_column_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scores(tidy_scores().drop(columns="fold"), tmp_path / "s.csv")
    with pytest.raises(ConfigurationError, match=r"missing the column\(s\) \['fold'\]"):
        read_scores(path)
    code, _, err = run_report([str(path)], capsys)
    assert code == 2
    assert "'dataset', 'sampler', 'classifier', 'repeat', 'fold'" in err


def test_absent_metric_lists_present(scores_csv: Path) -> None:
    scores = read_scores(scores_csv)
    with pytest.raises(
        ConfigurationError,
        match=r"metric 'mcc' is not in these scores. Metrics present: auc\.",
    ):
        build_leaderboards(scores, "mcc")


def test_missing_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigurationError, match=r"scores file .*nope\.csv not found"):
        read_scores(tmp_path / "nope.csv")
    with pytest.raises(ConfigurationError, match="run directory .* has no scores.csv"):
        read_scores(tmp_path)
    code, _, err = run_report([str(tmp_path / "nope.csv")], capsys)
    assert code == 2
    assert err.startswith("error: scores file")


def test_empty_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ConfigurationError, match="empty.csv is empty"):
        read_scores(path)


def test_unknown_control_lists_samplers(scores_csv: Path) -> None:
    scores = read_scores(scores_csv)
    with pytest.raises(ConfigurationError, match=r"control sampler 'smoot' has no"):
        build_leaderboards(scores, "auc", control="smoot")


def test_alpha_out_of_range(
    scores_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_report([str(scores_csv), "--alpha", "1.5"], capsys)
    assert code == 2
    assert "alpha must lie strictly between 0 and 1, got 1.5" in err


# Formats


@pytest.mark.parametrize("fmt", [*TEXT_FORMATS, "csv"])
def test_each_format_renders(
    scores_csv: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(scores_csv), "--format", fmt, "--control", "none"]
    code, out, _ = run_report(argv, capsys)
    assert code == 0
    assert "broken" in out
    assert "ds2" in out
    assert not has_nan(out)


def test_latex_booktabs_bold_and_caption(scores_csv: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc", control="none")
    latex = render_report(boards, "latex")
    assert r"\toprule" in latex
    assert r"\midrule" in latex
    assert r"\bottomrule" in latex
    best_row = next(line for line in latex.splitlines() if line.startswith("smote &"))
    assert best_row.count(r"\textbf{") == 3
    assert r"broken\_sampler" in latex
    caption = next(line for line in latex.splitlines() if line.startswith(r"\caption"))
    assert r"\textsuperscript{\dag} significantly worse" in caption
    assert r"\textsuperscript{*} significantly better" in caption
    assert "corrected repeated CV t-test" in caption
    assert r"$\alpha$ = 0.05" in caption


def test_marks_against_control(scores_csv: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc", control="none")
    cells = boards[0].cells.set_index(["sampler", "dataset"])["mark"]
    assert set(cells.loc["smote"]) == {"better"}
    assert set(cells.loc["broken_sampler"]) == {"worse"}
    assert set(cells.loc["adasyn"]) == {""}
    assert set(cells.loc["none"]) == {""}
    terminal = render_report(boards, "terminal")
    assert "(1)*" in terminal
    assert "(4)†" in terminal
    assert "none (control)" in terminal


def test_no_control_means_no_marks(scores_csv: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc")
    assert boards[0].cells["mark"].eq("").all()
    text = flat(render_report(boards, "terminal"))
    assert "No control sampler was given" in text
    assert "Nemenyi" in text


def test_markdown_escapes_and_bolds(scores_csv: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc", control="none")
    markdown = render_report(boards, "markdown")
    assert "broken\\_sampler" in markdown
    assert re.search(r"\| smote +\| \*\*0\.\d{3} ± 0\.\d{3}\*\* \(1\)\\\*", markdown)


def test_html_escapes_and_marks(tmp_path: Path) -> None:
    shifts = {"none": 0.0, "<b>": 0.05, "c": 0.01}
    path = write_scores(tidy_scores(shifts=shifts), tmp_path / "s.csv")
    boards = build_leaderboards(read_scores(path), "auc", control="none")
    page = render_report(boards, "html")
    assert "<td>&lt;b&gt;</td>" in page
    assert "<strong>" in page
    assert "<sup>*</sup>" in page
    assert "<caption>" in page


def test_csv_is_tidy(scores_csv: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc", control="none")
    table = pd.read_csv(pd.io.common.StringIO(render_report(boards, "csv")))
    assert len(table) == 3 * 4
    smote = table[table["sampler"] == "smote"]
    assert smote["vs_control"].eq("better").all()
    assert smote["p_adjusted"].lt(0.05).all()
    assert smote["p_better"].gt(0.9).all()
    assert table.loc[table["sampler"] == "none", "p_value"].isna().all()


def test_unknown_format_rejected(scores_csv: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc")
    with pytest.raises(ConfigurationError, match="unknown report format 'pdf'"):
        render_report(boards, "pdf")


# Statistics in the report


def test_report_states_tests_and_methods(scores_csv: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc", control="none")
    text = flat(render_report(boards, "terminal"))
    assert "Friedman test on N = 3 datasets and k = 4 samplers" in text
    assert "Iman–Davenport F(3, 6)" in text
    assert "Holm (mean ranks vs control)" in text
    assert "Wilcoxon signed-rank" in text
    assert "P(better)" in text
    assert "Cliff's δ" in text
    assert "Δ mean [95% CI]" in text
    methods = text[text.index("Methods -------") :]
    assert "N = 3 datasets, k = 4 samplers, α = 0.05" in methods
    assert "Region of practical equivalence ±0.01" in methods


def test_alpha_and_rope_reach_the_text(scores_csv: Path) -> None:
    scores = read_scores(scores_csv)
    boards = build_leaderboards(scores, "auc", control="none", alpha=0.1, rope=0.02)
    text = flat(render_report(boards, "terminal"))
    assert "Δ mean [90% CI]" in text
    assert "practical equivalence of ±0.02" in text
    assert "α = 0.1" in text


def test_lower_is_better_reverses_ranks(scores_csv: Path) -> None:
    scores = read_scores(scores_csv)
    boards = build_leaderboards(scores, "auc", greater_is_better=False, control="none")
    board = boards[0]
    assert board.samplers[0] == "broken_sampler"
    assert set(board.cells.set_index("sampler").loc["smote", "mark"]) == {"worse"}
    assert "lower is better" in render_report(boards, "terminal")


def test_two_samplers_one_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = tidy_scores(n_datasets=1, shifts={"none": 0.0, "smote": 0.01})
    path = write_scores(scores, tmp_path / "s.csv")
    code, out, _ = run_report([str(path), "--control", "none"], capsys)
    assert code == 0
    assert "Not applicable: the Friedman test needs at least 3 samplers, got 2." in out
    words = " ".join(out.split())
    assert "The Wilcoxon signed-rank test needs at least 6 datasets" in words
    assert "No pair has N ≥ 6, so none is tested." in words
    assert "Not tested: N < 6." in out
    # The tests within the dataset still run.
    assert "corrected repeated CV t-test" in out
    assert not has_nan(out)


def test_all_tied_scores_render_without_nan(tmp_path: Path) -> None:
    scores = tidy_scores(shifts={"none": 0.0, "smote": 0.0, "adasyn": 0.0}, noise=0)
    scores["value"] = 0.8
    boards = build_leaderboards(scores, "auc", control="none")
    for fmt in [*TEXT_FORMATS, "csv"]:
        text = render_report(boards, fmt)
        assert not has_nan(text), fmt
    terminal = flat(render_report(boards, "terminal"))
    assert "all samplers tied in every block" in terminal
    assert "0.800 ± 0.000 (2)" in terminal
    assert "Identical scores, so p = 1" in terminal


def test_identical_rankings_report_exact_p(tmp_path: Path) -> None:
    shifts = {"none": 0.0, "smote": 0.05, "adasyn": 0.1}
    boards = build_leaderboards(tidy_scores(n_datasets=2, shifts=shifts), "auc")
    text = flat(render_report(boards, "terminal"))
    assert "F(2, 2) = ∞, p = 0.167" in text
    assert "No difference between the average ranks is detected" in text


# Missing scores and failures


def test_missing_and_failed_cells_reported(run_dir: Path) -> None:
    boards = build_leaderboards(
        read_scores(run_dir), "auc", control="none", failures=read_failures(run_dir)
    )
    text = flat(render_report(boards, "terminal"))
    assert "[5/6]" in text
    missing = text[text.index("Missing scores --------------") :]
    assert (
        "smote failed on ds2 in 1 fold(s) (r0f1): ValueError: Expected n_neighbors "
        "<= n_samples_fit." in missing
    )
    # Dropping adasyn (3 scores per line) loses fewer scores than dropping
    # ds1 (4), then ds2 and smote tie on both counts and the dataset goes.
    assert "adasyn left out of the Friedman and post-hoc tests" in missing
    assert "ds2 left out of the Friedman and post-hoc tests" in missing
    assert "only one class in the test fold" in missing
    assert "task failed: ValueError" in missing
    assert "ds1 repeat 1 fold 2 left out of adasyn vs none" in missing
    assert "ds2 repeat 0 fold 1 left out of smote vs none" in missing
    friedman = text[text.index("Across datasets") :]
    assert "Friedman test on N = 2 datasets and k = 3 samplers" in friedman


def test_sampler_failing_everywhere_is_excluded(scores_csv: Path) -> None:
    scores = read_scores(scores_csv)
    failed = scores[scores["sampler"] == "broken_sampler"]
    failures = failed.drop_duplicates(["dataset", "repeat", "fold"]).assign(
        error="RuntimeError: out of memory"
    )
    scores = scores[scores["sampler"] != "broken_sampler"]
    boards = build_leaderboards(scores, "auc", failures=failures)
    board = boards[0]
    assert board.samplers[-1] == "broken_sampler"
    assert "broken_sampler" in board.excluded
    assert board.statistics is not None
    assert board.statistics.friedman.applicable
    text = flat(render_report(boards, "terminal"))
    assert "broken_sampler failed on ds0 in 6 fold(s)" in text
    assert "left out of every test" in text


def test_sampler_failing_most_datasets_not_ranked() -> None:
    scores = tidy_scores(n_datasets=4)
    sampler = sorted(scores["sampler"].unique())[0]
    failed = (
        (scores["sampler"] == sampler)
        & scores["dataset"].isin(["ds0", "ds1", "ds2"])
        & (scores["fold"] == 0)
    )
    scores.loc[failed, "value"] = np.nan
    failures = scores[failed].assign(error="RuntimeError: No clusters found")
    boards = build_leaderboards(scores, "auc", failures=failures)
    board = boards[0]
    assert board.statistics is not None
    assert board.statistics.friedman.n_blocks == 4
    assert np.isnan(board.average_ranks[sampler])
    assert board.samplers[-1] == sampler
    text = flat(render_report(boards, "terminal"))
    assert f"Not ranked: {sampler}" in text
    assert "mean rank over the 4 datasets" in text
    missing = text[text.index("Missing scores --------------") :]
    assert (
        f"{sampler} left out of the Friedman and post-hoc tests and the average "
        "ranks: ds0: 2 of 6 (repeat, fold) scores missing" in missing
    )
    assert "RuntimeError: No clusters found" in missing


def test_summary_limits_missing_list(run_dir: Path) -> None:
    scores = read_scores(run_dir)
    # Two of the three folds missing on every dataset: 12 folds and 3 datasets
    # are dropped, more than a summary lists.
    missing = (scores["sampler"] == "adasyn") & (scores["fold"] < 2)
    scores.loc[missing, "value"] = np.nan
    boards = build_leaderboards(scores, "auc", control="none")
    summary = flat(render_report(boards, "terminal", detail="summary", source=run_dir))
    assert f"bench report {run_dir} lists them all" in summary
    full = render_report(boards, "terminal")
    assert "lists them all" not in full


# Critical-difference diagram


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_cd_diagram_written(
    scores_csv: Path,
    tmp_path: Path,
    suffix: str,
    agg_backend: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / f"cd{suffix}"
    code, out, err = run_report([str(scores_csv), "--cd-diagram", str(path)], capsys)
    assert code == 0, err
    assert f"critical-difference diagram written to {path}" in err
    assert "smote" in out
    content = path.read_bytes()
    if suffix == ".png":
        assert content.startswith(b"\x89PNG")
    else:
        assert b"<svg" in content


def test_cd_diagram_with_control_uses_nemenyi(
    scores_csv: Path, tmp_path: Path, agg_backend: None
) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc", control="none")
    assert boards[0].statistics is not None
    assert boards[0].statistics.posthoc.test == "Holm (mean ranks vs control)"
    assert boards[0].nemenyi is not None
    assert boards[0].nemenyi.critical_difference is not None
    assert write_cd_diagram(boards, tmp_path / "cd.svg").exists()


def test_cd_diagram_needs_nemenyi(tmp_path: Path) -> None:
    scores = tidy_scores(n_datasets=1, shifts={"none": 0.0, "smote": 0.01})
    boards = build_leaderboards(scores, "auc")
    with pytest.raises(ConfigurationError, match="needs at least 3 samplers, got 2"):
        write_cd_diagram(boards, tmp_path / "cd.png")


def test_cd_diagram_rejects_suffix(scores_csv: Path, tmp_path: Path) -> None:
    boards = build_leaderboards(read_scores(scores_csv), "auc")
    with pytest.raises(ConfigurationError, match=r"must end in \.png, \.svg, \.pdf"):
        write_cd_diagram(boards, tmp_path / "cd.jpg")


def test_cd_diagram_without_matplotlib(
    scores_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    boards = build_leaderboards(read_scores(scores_csv), "auc")
    with pytest.raises(ConfigurationError, match="needs matplotlib"):
        write_cd_diagram(boards, tmp_path / "cd.png")


# Run directory outputs


def test_write_outputs_adds_statistics(tmp_path: Path) -> None:
    scores = tidy_scores(n_datasets=2, shifts={"none": 0.0, "smote": 0.02, "b": 0.01})
    keys = []
    with ResultStore(tmp_path / "results.sqlite") as store:
        for (dataset, sampler, repeat, fold), rows in scores.groupby(
            ["dataset", "sampler", "repeat", "fold"]
        ):
            key = f"{dataset}/{sampler}/{repeat}/{fold}"
            keys.append(key)
            result = TaskResult(
                key, dataset, sampler, "logreg", repeat, fold, 0, "ok",
                scores=[("auc", float(rows["value"].iloc[0]), "")],
            )  # fmt: skip
            store.record(result)
        failed = TaskResult(
            "ds0/c/0/0", "ds0", "c", "logreg", 0, 0, 0, "error",
            error="ValueError: bad", traceback="Traceback ...",
        )  # fmt: skip
        store.record(failed)
        keys.append(failed.key)
        write_outputs(tmp_path, store, keys, load_registry())
    text = flat((tmp_path / "leaderboard.txt").read_text())
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert "Friedman test" in text
    assert "c failed on ds0 in 1 fold(s) (r0f0): ValueError: bad." in text
    assert f"bench report {tmp_path} adds the pairwise tests" in text
    assert "## auc, classifier logreg" in markdown
    assert pd.read_csv(tmp_path / "failures.csv")["sampler"].tolist() == ["c"]
