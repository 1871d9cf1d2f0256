"""Tests of the statistics layer against scipy, scikit-posthocs and statsmodels.

Reference values come from fixed score matrices, so every comparison is
deterministic. Agreement is required to 1e-9.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
from scipy import stats
from statsmodels.stats.multitest import multipletests

from benchmark.statistics import (
    BlockMatrix,
    bayesian_correlated_t_test,
    build_report,
    cliffs_delta,
    corrected_t_test,
    dataset_matrix,
    fold_matrix,
    friedman_test,
    holm_adjust,
    holm_control_test,
    nemenyi_test,
    summarize_scores,
    validate_scores,
    wilcoxon_test,
)
from benchmark.store import SCORE_COLUMNS

TOLERANCE = 1e-9

# Seven datasets (rows) by four samplers (columns) with ties in two rows.
SCORES = np.array(
    [
        [0.81, 0.83, 0.80, 0.79],
        [0.75, 0.78, 0.77, 0.70],
        [0.90, 0.91, 0.90, 0.88],
        [0.66, 0.70, 0.69, 0.60],
        [0.72, 0.74, 0.71, 0.73],
        [0.85, 0.86, 0.84, 0.80],
        [0.60, 0.64, 0.64, 0.61],
    ]
)
SAMPLERS = ["none", "smote", "adasyn", "cvae"]


def score_matrix(
    values: np.ndarray = SCORES,
    *,
    greater_is_better: bool = True,
    missing_reasons: pd.DataFrame | None = None,
) -> BlockMatrix:
    """Wrap a datasets-by-samplers array as a matrix indexed d0, d1, ..."""
    frame = pd.DataFrame(
        values,
        columns=SAMPLERS[: values.shape[1]],
        index=pd.Index([f"d{i}" for i in range(len(values))], name="dataset"),
    )
    return BlockMatrix(frame, greater_is_better, missing_reasons=missing_reasons)


def scores_table(
    n_datasets: int = 3, n_repeats: int = 2, n_folds: int = 3, seed: int = 0
) -> pd.DataFrame:
    """Build a complete scores table with two metrics and one classifier."""
    rng = np.random.default_rng(seed)
    shifts = {"none": 0.0, "smote": 0.02, "adasyn": 0.01}
    rows = []
    for dataset, (sampler, shift), repeat, fold in itertools.product(
        range(n_datasets), shifts.items(), range(n_repeats), range(n_folds)
    ):
        for metric in ("auc", "brier"):
            rows.append(
                {
                    "dataset": f"d{dataset}",
                    "sampler": sampler,
                    "classifier": "lr",
                    "repeat": repeat,
                    "fold": fold,
                    "metric": metric,
                    "value": 0.7 + shift + rng.normal(0, 0.01),
                }
            )
    return pd.DataFrame(rows)


# Loading and validation


def test_validate_scores_missing_column() -> None:
    table = scores_table().drop(columns=["fold", "metric"])
    with pytest.raises(
        ValueError, match=r"missing the column\(s\) \['fold', 'metric'\].*required"
    ):
        validate_scores(table)


def test_validate_scores_names_required_set() -> None:
    table = scores_table().drop(columns=["value"])
    with pytest.raises(ValueError) as error:
        validate_scores(table)
    assert str(list(SCORE_COLUMNS)) in str(error.value)


def test_validate_scores_empty_value_is_missing() -> None:
    table = scores_table().astype({"value": object})
    table.loc[0, "value"] = ""
    loaded = validate_scores(table)
    assert np.isnan(loaded.loc[0, "value"])
    assert loaded["note"].eq("").all()


def test_validate_scores_non_numeric_value() -> None:
    table = scores_table().astype({"value": object})
    table.loc[4, "value"] = "n/a"
    with pytest.raises(ValueError, match=r"non-numeric.*'n/a' at row 4"):
        validate_scores(table)


def test_validate_scores_infinite_value() -> None:
    table = scores_table()
    table.loc[2, "value"] = np.inf
    with pytest.raises(ValueError, match="infinite entry.*row 2"):
        validate_scores(table)


def test_validate_scores_empty_key() -> None:
    table = scores_table().astype({"sampler": object})
    table.loc[3, "sampler"] = None
    with pytest.raises(ValueError, match="column 'sampler' is empty in 1 row"):
        validate_scores(table)


def test_validate_scores_repeated_key() -> None:
    table = scores_table()
    table = pd.concat([table, table.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="rows repeat the key"):
        validate_scores(table)


def test_metric_absent_lists_present() -> None:
    with pytest.raises(
        ValueError,
        match=r"metric 'f1' is not in these scores. Metrics present: auc, brier\.",
    ):
        dataset_matrix(scores_table(), "f1")


def test_several_classifiers_need_choice() -> None:
    table = scores_table()
    other = table.assign(classifier="rf")
    both = pd.concat([table, other], ignore_index=True)
    with pytest.raises(ValueError, match=r"several classifiers \['lr', 'rf'\]"):
        dataset_matrix(both, "auc")
    matrix = dataset_matrix(both, "auc", classifier="rf")
    assert matrix.samplers == ("adasyn", "none", "smote")


def test_unknown_sampler_control_dataset() -> None:
    table = scores_table()
    with pytest.raises(ValueError, match=r"sampler\(s\) \['rose'\] have no"):
        dataset_matrix(table, "auc", samplers=["none", "rose"])
    with pytest.raises(ValueError, match="control sampler 'rose' is not among"):
        build_report(table, "auc", control="rose")
    with pytest.raises(ValueError, match=r"dataset 'd9' has no .*present: \['d0'"):
        fold_matrix(table, "auc", "d9")


def test_alpha_and_rope_ranges() -> None:
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        friedman_test(score_matrix(), alpha=1.5)
    with pytest.raises(ValueError, match="rope must be a non-negative number"):
        build_report(scores_table(), "auc", rope=-0.1)


def test_block_matrix_rejects_infinite() -> None:
    values = SCORES.copy()
    values[0, 0] = np.inf
    with pytest.raises(ValueError, match="scores must be finite"):
        score_matrix(values)


# Per-dataset summary and ranks


def test_ranks_average_ties_and_direction() -> None:
    matrix = score_matrix()
    ranks = matrix.ranks()
    assert ranks.loc["d2"].tolist() == [2.5, 1.0, 2.5, 4.0]
    assert ranks.loc["d6"].tolist() == [4.0, 1.5, 1.5, 3.0]
    lower = score_matrix(greater_is_better=False).ranks()
    assert lower.loc["d2"].tolist() == [2.5, 4.0, 2.5, 1.0]


def test_summary_mean_std_rank() -> None:
    table = scores_table()
    summary = summarize_scores(table, "auc")
    row = summary[(summary["dataset"] == "d1") & (summary["sampler"] == "smote")]
    values = table[
        (table["dataset"] == "d1")
        & (table["sampler"] == "smote")
        & (table["metric"] == "auc")
    ]["value"]
    assert row["mean"].item() == pytest.approx(values.mean(), abs=TOLERANCE)
    assert row["std"].item() == pytest.approx(values.std(ddof=1), abs=TOLERANCE)
    assert row["n_scores"].item() == 6
    assert row["n_missing"].item() == 0
    ranks = summary[summary["dataset"] == "d1"].set_index("sampler")["rank"]
    means = summary[summary["dataset"] == "d1"].set_index("sampler")["mean"]
    assert ranks.idxmin() == means.idxmax()


def test_summary_notes_missing_and_unranked() -> None:
    table = scores_table()
    failed = (
        (table["dataset"] == "d0")
        & (table["sampler"] == "smote")
        & (table["fold"] == 1)
        & (table["repeat"] == 0)
    )
    table.loc[failed, "value"] = np.nan
    table["note"] = np.where(failed, "SMOTE needs 6 minority samples", "")
    summary = summarize_scores(table, "auc").set_index(["dataset", "sampler"])
    assert summary.loc[("d0", "smote"), "n_missing"] == 1
    assert summary.loc[("d0", "smote"), "n_scores"] == 5
    assert "SMOTE needs 6 minority samples" in summary.loc[("d0", "smote"), "note"]
    assert summary.loc[("d0", "none"), "note"].startswith("not ranked: smote: 1 of 6")
    assert summary.loc[("d0", "none"), "rank"] != summary.loc[("d0", "none"), "rank"]
    assert summary.loc[("d1", "none"), "note"] == ""


# Friedman and Iman-Davenport


def test_friedman_matches_scipy() -> None:
    result = friedman_test(score_matrix())
    reference = stats.friedmanchisquare(*SCORES.T)
    assert result.applicable
    assert result.statistic == pytest.approx(reference.statistic, abs=TOLERANCE)
    assert result.p_value == pytest.approx(reference.pvalue, abs=TOLERANCE)
    assert result.df == 3


def test_iman_davenport_formula() -> None:
    result = friedman_test(score_matrix())
    n, k = SCORES.shape
    chi2 = stats.friedmanchisquare(*SCORES.T).statistic
    f_statistic = (n - 1) * chi2 / (n * (k - 1) - chi2)
    df = (k - 1, (k - 1) * (n - 1))
    assert result.iman_davenport_df == df
    assert result.iman_davenport_statistic == pytest.approx(f_statistic, abs=TOLERANCE)
    expected_p = stats.f.sf(f_statistic, *df)
    assert result.iman_davenport_p_value == pytest.approx(expected_p, abs=TOLERANCE)
    assert result.rejected == (expected_p < 0.05)


def test_friedman_average_ranks() -> None:
    result = friedman_test(score_matrix())
    expected = stats.rankdata(-SCORES, axis=1).mean(axis=0)
    for sampler, rank in zip(SAMPLERS, expected, strict=True):
        assert result.average_ranks[sampler] == pytest.approx(rank, abs=TOLERANCE)
    assert list(result.average_ranks.index)[0] == "smote"


def test_friedman_two_samplers_not_applicable() -> None:
    result = friedman_test(score_matrix(SCORES[:, :2]))
    assert not result.applicable
    assert result.reason == (
        "not applicable: the Friedman test needs at least 3 samplers, got 2"
    )
    assert result.p_value is None
    assert result.to_frame()["note"].eq(result.reason).all()


def test_friedman_one_dataset_not_applicable() -> None:
    result = friedman_test(score_matrix(SCORES[:1]))
    assert not result.applicable
    assert "needs at least 2 complete blocks, got 1" in result.reason


def test_friedman_all_tied_not_applicable() -> None:
    result = friedman_test(score_matrix(np.full((5, 4), 0.8)))
    assert not result.applicable
    assert result.reason == "not applicable: all samplers tied in every block"
    assert result.statistic is None
    assert result.rejected is None


def test_friedman_identical_rankings_infinite_f() -> None:
    values = np.array([[0.9, 0.8, 0.7], [0.6, 0.5, 0.4], [0.8, 0.7, 0.1]])
    result = friedman_test(score_matrix(values))
    assert result.statistic == pytest.approx(6.0, abs=TOLERANCE)
    assert result.iman_davenport_statistic == math.inf
    # Three blocks in the same order of 3 samplers: (1 / 3!)^2 = 1 / 36.
    assert result.iman_davenport_p_value == pytest.approx(1 / 36, abs=TOLERANCE)
    assert "F is infinite" in result.note


def test_friedman_identical_rankings_matches_enumeration() -> None:
    values = np.array([[0.9, 0.8, 0.7], [0.6, 0.5, 0.4], [0.8, 0.7, 0.1]])
    observed = friedman_test(score_matrix(values)).statistic
    orders = list(itertools.permutations([0.3, 0.2, 0.1]))
    statistics = [
        stats.friedmanchisquare(*np.array(blocks).T).statistic
        for blocks in itertools.product(orders, repeat=3)
    ]
    exact = np.mean(np.array(statistics) >= observed - 1e-9)
    result = friedman_test(score_matrix(values))
    assert result.iman_davenport_p_value == pytest.approx(exact, abs=TOLERANCE)


def test_friedman_identical_rankings_two_blocks() -> None:
    values = np.array([[0.9, 0.8, 0.7], [0.6, 0.5, 0.4]])
    result = friedman_test(score_matrix(values))
    assert result.iman_davenport_p_value == pytest.approx(1 / 6, abs=TOLERANCE)
    assert result.rejected is False


def test_friedman_identical_rankings_with_ties() -> None:
    values = np.array([[0.9, 0.9, 0.7], [0.6, 0.6, 0.4], [0.8, 0.8, 0.1]])
    result = friedman_test(score_matrix(values))
    assert result.iman_davenport_statistic == math.inf
    # 3! / 2! = 3 distinct orders per block, so p = (1 / 3)^2.
    assert result.iman_davenport_p_value == pytest.approx(1 / 9, abs=TOLERANCE)


def test_friedman_drops_incomplete_dataset() -> None:
    values = SCORES.copy()
    values[3, 1] = np.nan
    reasons = pd.DataFrame(None, index=[f"d{i}" for i in range(7)], columns=SAMPLERS)
    reasons.loc["d3", "smote"] = "training failed"
    reasons.index.name = "dataset"
    matrix = score_matrix(values, missing_reasons=reasons)
    result = friedman_test(matrix)
    reference = stats.friedmanchisquare(*np.delete(SCORES, 3, axis=0).T)
    assert result.n_blocks == 6
    assert result.statistic == pytest.approx(reference.statistic, abs=TOLERANCE)
    assert result.dropped.to_dict("records") == [
        {"dataset": "d3", "reason": "smote: training failed"}
    ]


# Post-hoc tests on mean ranks


def test_nemenyi_matches_scikit_posthocs() -> None:
    result = nemenyi_test(score_matrix())
    reference = scikit_posthocs.posthoc_nemenyi_friedman(SCORES)
    for row in result.comparisons.itertuples():
        i, j = SAMPLERS.index(row.sampler_a), SAMPLERS.index(row.sampler_b)
        assert row.p_value == pytest.approx(reference.iloc[i, j], abs=TOLERANCE)
        assert row.p_adjusted == row.p_value
    assert len(result.comparisons) == 6


def test_nemenyi_critical_difference() -> None:
    result = nemenyi_test(score_matrix())
    n, k = SCORES.shape
    q_alpha = stats.studentized_range.ppf(0.95, k, np.inf) / np.sqrt(2)
    assert result.q_alpha == pytest.approx(q_alpha, abs=TOLERANCE)
    # The tabulated Nemenyi critical value for k = 4 and alpha = 0.05.
    assert result.q_alpha == pytest.approx(2.569, abs=5e-4)
    expected_cd = q_alpha * np.sqrt(k * (k + 1) / (6 * n))
    assert result.critical_difference == pytest.approx(expected_cd, abs=TOLERANCE)


def test_nemenyi_not_applicable_two_samplers() -> None:
    result = nemenyi_test(score_matrix(SCORES[:, :2]))
    assert not result.applicable
    assert "needs at least 3 samplers" in result.reason
    assert result.comparisons.empty
    assert result.critical_difference is None


def test_holm_control_matches_statsmodels() -> None:
    result = holm_control_test(score_matrix(), "none")
    n, k = SCORES.shape
    ranks = stats.rankdata(-SCORES, axis=1).mean(axis=0)
    z = (ranks[1:] - ranks[0]) / np.sqrt(k * (k + 1) / (6 * n))
    p_values = 2 * stats.norm.sf(np.abs(z))
    adjusted = multipletests(p_values, method="holm")[1]
    table = result.comparisons.set_index("sampler_a")
    for sampler, statistic, p, p_holm in zip(
        SAMPLERS[1:], z, p_values, adjusted, strict=True
    ):
        assert table.loc[sampler, "statistic"] == pytest.approx(statistic, abs=1e-9)
        assert table.loc[sampler, "p_value"] == pytest.approx(p, abs=TOLERANCE)
        assert table.loc[sampler, "p_adjusted"] == pytest.approx(p_holm, abs=1e-9)
    assert (table["sampler_b"] == "none").all()


def test_holm_adjust_matches_statsmodels() -> None:
    p_values = np.array([0.01, 0.04, 0.03, 0.2, 0.005, 0.04])
    expected = multipletests(p_values, method="holm")[1]
    np.testing.assert_allclose(holm_adjust(p_values), expected, rtol=0, atol=1e-12)


def test_holm_adjust_excludes_nan() -> None:
    p_values = np.array([0.01, np.nan, 0.03, 0.02])
    adjusted = holm_adjust(p_values)
    expected = multipletests(p_values[~np.isnan(p_values)], method="holm")[1]
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2, 3]], expected, rtol=0, atol=1e-12)


def test_holm_adjust_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]"):
        holm_adjust([0.2, 1.5])


# Wilcoxon signed-rank


def test_wilcoxon_matches_scipy_and_scikit_posthocs() -> None:
    result = wilcoxon_test(score_matrix())
    reference = scikit_posthocs.posthoc_wilcoxon(
        list(SCORES.T), zero_method="zsplit", p_adjust="holm"
    )
    for row in result.comparisons.itertuples():
        i, j = SAMPLERS.index(row.sampler_a), SAMPLERS.index(row.sampler_b)
        single = stats.wilcoxon(SCORES[:, i], SCORES[:, j], zero_method="zsplit")
        assert row.statistic == pytest.approx(single.statistic, abs=TOLERANCE)
        assert row.p_value == pytest.approx(single.pvalue, abs=TOLERANCE)
        assert row.p_adjusted == pytest.approx(reference.iloc[i, j], abs=TOLERANCE)
        assert row.n_blocks == 7


def test_wilcoxon_effect_sizes() -> None:
    result = wilcoxon_test(score_matrix(), control="none")
    row = result.comparisons.set_index("sampler_a").loc["smote"]
    difference = SCORES[:, 1] - SCORES[:, 0]
    half = stats.t.ppf(0.975, 6) * difference.std(ddof=1) / np.sqrt(7)
    assert row["mean_difference"] == pytest.approx(difference.mean(), abs=1e-12)
    assert row["ci_low"] == pytest.approx(difference.mean() - half, abs=1e-12)
    assert row["ci_high"] == pytest.approx(difference.mean() + half, abs=1e-12)
    assert row["cliffs_delta"] == pytest.approx(
        cliffs_delta(SCORES[:, 1], SCORES[:, 0]), abs=1e-12
    )


def test_wilcoxon_too_few_pairs() -> None:
    result = wilcoxon_test(score_matrix(SCORES[:5]))
    assert not result.applicable
    assert result.reason.startswith("not applicable: no comparison could be made")
    notes = result.comparisons["note"]
    assert notes.str.contains("5 complete blocks, but the Wilcoxon signed-rank").all()
    assert result.comparisons["p_value"].isna().all()
    assert result.comparisons["reject"].isna().all()


def test_wilcoxon_identical_samplers() -> None:
    values = SCORES.copy()
    values[:, 3] = values[:, 0]
    result = wilcoxon_test(score_matrix(values), control="none")
    row = result.comparisons.set_index("sampler_a").loc["cvae"]
    assert row["p_value"] == 1.0
    assert row["statistic"] == 7 * 8 / 4
    assert row["note"] == "all differences are zero, so p = 1"


def test_wilcoxon_undefined_pair_left_out_of_holm() -> None:
    values = SCORES.copy()
    values[:2, 3] = np.nan
    result = wilcoxon_test(score_matrix(values), control="none")
    table = result.comparisons.set_index("sampler_a")
    assert np.isnan(table.loc["cvae", "p_value"])
    assert np.isnan(table.loc["cvae", "p_adjusted"])
    defined = table.loc[["smote", "adasyn"], "p_value"].to_numpy()
    expected = multipletests(defined, method="holm")[1]
    np.testing.assert_allclose(
        table.loc[["smote", "adasyn"], "p_adjusted"], expected, rtol=0, atol=1e-12
    )
    assert result.reason == "excluded from the Holm family: cvae vs none"
    assert set(result.dropped["dataset"]) == {"d0", "d1"}
    assert (result.dropped["sampler_a"] == "cvae").all()


def test_wilcoxon_zero_differences_no_warning() -> None:
    values = SCORES.copy()
    values[:3, 1] = values[:3, 0]
    result = wilcoxon_test(score_matrix(values), control="none")
    expected = stats.wilcoxon(values[:, 1], values[:, 0], zero_method="zsplit")
    row = result.comparisons.set_index("sampler_a").loc["smote"]
    assert row["p_value"] == pytest.approx(expected.pvalue, abs=TOLERANCE)


# Tests within one dataset


def fold_scores(differences: np.ndarray, ratio: float = 0.5) -> BlockMatrix:
    """Two repeats of three folds: the control at 0.7, the sampler above it."""
    index = pd.MultiIndex.from_product([range(2), range(3)], names=["repeat", "fold"])
    control = np.full(6, 0.7)
    frame = pd.DataFrame({"none": control, "smote": control + differences}, index=index)
    return BlockMatrix(frame, test_train_ratio=ratio)


DIFFERENCES = 0.01 * np.arange(1, 7)


def test_corrected_t_hand_computed() -> None:
    # mean(d) = 0.035 and var(d) = 3.5e-4, so with n = 6 and n_test / n_train
    # = 1/2, t = 0.035 / sqrt((1/6 + 1/2) * 3.5e-4) = sqrt(21) / 2.
    result = corrected_t_test(fold_scores(DIFFERENCES), "none")
    row = result.comparisons.iloc[0]
    t = math.sqrt(21) / 2
    assert row["statistic"] == pytest.approx(t, abs=TOLERANCE)
    assert row["df"] == 5
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(t, 5), abs=TOLERANCE)
    assert row["p_adjusted"] == row["p_value"]
    half = stats.t.ppf(0.975, 5) * 0.035 / t
    assert row["ci_low"] == pytest.approx(0.035 - half, abs=TOLERANCE)
    assert row["ci_high"] == pytest.approx(0.035 + half, abs=TOLERANCE)
    assert row["cliffs_delta"] == 1.0


def test_corrected_t_holm_over_samplers() -> None:
    matrix = fold_scores(DIFFERENCES)
    values = matrix.values.assign(adasyn=matrix.values["none"] - DIFFERENCES[::-1] / 3)
    result = corrected_t_test(BlockMatrix(values, test_train_ratio=0.5), "none")
    expected = multipletests(result.comparisons["p_value"], method="holm")[1]
    np.testing.assert_allclose(
        result.comparisons["p_adjusted"], expected, rtol=0, atol=1e-12
    )


def test_corrected_t_drops_missing_folds() -> None:
    matrix = fold_scores(DIFFERENCES)
    values = matrix.values.copy()
    values.iloc[0, 1] = np.nan
    result = corrected_t_test(BlockMatrix(values, test_train_ratio=0.5), "none")
    assert result.comparisons["n_blocks"].item() == 5
    assert result.dropped[["repeat", "fold"]].values.tolist() == [[0, 0]]
    assert result.dropped["reason"].item() == "smote: score missing"


def test_corrected_t_undefined_left_out_of_holm() -> None:
    matrix = fold_scores(DIFFERENCES)
    values = matrix.values.assign(
        adasyn=[0.71, np.nan, np.nan, np.nan, np.nan, np.nan],
        cvae=matrix.values["none"] + DIFFERENCES[::-1] / 2,
    )
    result = corrected_t_test(BlockMatrix(values, test_train_ratio=0.5), "none")
    table = result.comparisons.set_index("sampler_a")
    assert np.isnan(table.loc["adasyn", "p_value"])
    assert np.isnan(table.loc["adasyn", "p_adjusted"])
    assert table.loc["adasyn", "note"] == (
        "not applicable: 1 complete block, but the t-test needs 2"
    )
    expected = multipletests(table.loc[["smote", "cvae"], "p_value"], method="holm")[1]
    np.testing.assert_allclose(
        table.loc[["smote", "cvae"], "p_adjusted"], expected, rtol=0, atol=1e-12
    )
    assert result.reason == "excluded from the Holm family: adasyn vs none"


def test_corrected_t_degenerate_differences() -> None:
    identical = corrected_t_test(fold_scores(np.zeros(6)), "none").comparisons
    assert identical["p_value"].item() == 1.0
    assert identical["note"].item() == "identical scores, so p = 1"
    constant = corrected_t_test(fold_scores(np.full(6, 0.02)), "none").comparisons
    assert constant["p_value"].item() == 0.0
    assert constant["statistic"].item() == math.inf


def test_corrected_t_needs_ratio() -> None:
    matrix = BlockMatrix(fold_scores(DIFFERENCES).values)
    with pytest.raises(ValueError, match="test_train_ratio is unknown"):
        corrected_t_test(matrix, "none")


def test_fold_matrix_default_ratio() -> None:
    matrix = fold_matrix(scores_table(n_folds=5), "auc", "d0")
    assert matrix.test_train_ratio == pytest.approx(0.25)
    assert matrix.block_columns == ["repeat", "fold"]
    assert matrix.values.shape == (10, 3)


def test_bayesian_correlated_t_formula() -> None:
    result = bayesian_correlated_t_test(fold_scores(DIFFERENCES), "none", rope=0.01)
    row = result.comparisons.iloc[0]
    scale = 0.035 / (math.sqrt(21) / 2)
    p_worse = stats.t.cdf((-0.01 - 0.035) / scale, 5)
    p_better = stats.t.sf((0.01 - 0.035) / scale, 5)
    assert row["scale"] == pytest.approx(scale, abs=TOLERANCE)
    assert row["p_better"] == pytest.approx(p_better, abs=TOLERANCE)
    assert row["p_worse"] == pytest.approx(p_worse, abs=TOLERANCE)
    total = row["p_better"] + row["p_equivalent"] + row["p_worse"]
    assert total == pytest.approx(1.0, abs=TOLERANCE)
    assert result.alpha is None


def test_bayesian_without_rope_matches_t_test() -> None:
    matrix = fold_scores(DIFFERENCES - 0.03)
    bayes = bayesian_correlated_t_test(matrix, "none", rope=0.0).comparisons.iloc[0]
    frequentist = corrected_t_test(matrix, "none").comparisons.iloc[0]
    two_sided = 2 * min(bayes["p_better"], bayes["p_worse"])
    assert two_sided == pytest.approx(frequentist["p_value"], abs=TOLERANCE)


def test_bayesian_lower_is_better_swaps() -> None:
    higher = bayesian_correlated_t_test(fold_scores(DIFFERENCES), "none")
    values = fold_scores(DIFFERENCES).values
    lower_matrix = BlockMatrix(values, greater_is_better=False, test_train_ratio=0.5)
    lower = bayesian_correlated_t_test(lower_matrix, "none")
    assert lower.comparisons["p_better"].item() == pytest.approx(
        higher.comparisons["p_worse"].item(), abs=TOLERANCE
    )


def test_bayesian_point_mass() -> None:
    result = bayesian_correlated_t_test(fold_scores(np.full(6, 0.02)), "none")
    row = result.comparisons.iloc[0]
    assert (row["p_better"], row["p_equivalent"], row["p_worse"]) == (1.0, 0.0, 0.0)
    assert "point mass" in row["note"]


# Effect sizes


def test_cliffs_delta_hand_computed() -> None:
    assert cliffs_delta([3, 4], [1, 2, 3]) == pytest.approx(5 / 6)
    assert cliffs_delta([1, 2, 3], [2, 2]) == 0.0
    assert cliffs_delta([0.1], [0.2]) == -1.0
    with pytest.raises(ValueError, match="two non-empty samples"):
        cliffs_delta([], [1.0])


# Report


def report_table() -> pd.DataFrame:
    table = scores_table(n_datasets=7)
    failed = (
        (table["dataset"] == "d2")
        & (table["sampler"] == "adasyn")
        & (table["repeat"] == 1)
        & (table["fold"] == 2)
    )
    table.loc[failed, "value"] = np.nan
    table["note"] = np.where(failed, "fold has 1 minority sample", "")
    return table


def test_report_states_methods_with_control() -> None:
    report = build_report(report_table(), "auc", control="none")
    methods = report.methods.set_index("test")
    assert list(methods.index) == [
        "Friedman with Iman-Davenport F",
        "Holm (mean ranks vs control)",
        "Wilcoxon signed-rank (Holm)",
        "corrected repeated CV t-test (Holm)",
        "Bayesian correlated t-test",
    ]
    assert methods["applicable"].all()
    friedman_reason = methods.loc["Friedman with Iman-Davenport F", "reason"]
    assert friedman_reason.startswith("3 samplers on 6 of 7 datasets")
    assert methods.loc["Friedman with Iman-Davenport F", "n_datasets"] == 6
    bayes_reason = methods.loc["Bayesian correlated t-test", "reason"]
    assert bayes_reason.endswith("equivalence ±0.01.")
    assert report.alpha == 0.05


def test_report_without_control() -> None:
    report = build_report(report_table(), "auc")
    methods = report.methods.set_index("test")
    assert "Nemenyi" in methods.index
    assert "all 3 pairs" in methods.loc["Nemenyi", "reason"]
    within = methods.loc["corrected repeated CV t-test (Holm)"]
    assert not within["applicable"]
    assert within["reason"] == "not applicable: no control sampler given"
    assert report.corrected_t.empty


def test_report_lists_dropped_blocks() -> None:
    report = build_report(report_table(), "auc", control="none")
    dropped = report.dropped
    across = dropped[dropped["test"] == "Friedman and post-hoc"]
    assert across["dataset"].tolist() == ["d2"]
    assert "fold has 1 minority sample" in across["reason"].item()
    within = dropped[dropped["scope"] == "within each dataset"]
    assert within[["dataset", "repeat", "fold"]].values.tolist() == [["d2", 1, 2]]
    assert within["reason"].item() == "adasyn: fold has 1 minority sample"


def test_report_two_samplers() -> None:
    table = report_table()
    report = build_report(table, "auc", samplers=["none", "smote"])
    methods = report.methods.set_index("scope")
    assert not report.friedman.applicable
    assert "needs at least 3 samplers, got 2" in report.methods["reason"].iloc[0]
    assert report.wilcoxon.applicable
    assert methods.loc["across datasets", "n_samplers"].tolist() == [2, 2, 2]


def test_report_has_no_unexplained_nan() -> None:
    report = build_report(report_table(), "auc", control="none")
    for name in ("posthoc", "wilcoxon", "corrected_t"):
        table = report.tables()[name]
        unexplained = table["p_value"].isna() & table["note"].eq("")
        assert not unexplained.any(), name
    assert report.summary["rank"].isna().sum() == 3
    unranked = report.summary[report.summary["rank"].isna()]
    assert unranked["note"].str.startswith("1 of 6 (repeat, fold) scores").sum() == 1
    assert unranked["note"].str.contains("not ranked").all()


def test_report_to_dict_is_json() -> None:
    report = build_report(report_table(), "brier", greater_is_better=False)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["metric"] == "brier"
    assert data["greater_is_better"] is False
    assert set(data["tables"]) == set(report.tables())
    assert data["tables"]["summary"][0]["dataset"] == "d0"


def missing_matrix(
    missing: list[tuple[str, str]], n_datasets: int = 5, n_samplers: int = 6
) -> BlockMatrix:
    rng = np.random.default_rng(3)
    datasets = [f"d{i}" for i in range(n_datasets)]
    samplers = [f"s{j}" for j in range(n_samplers)]
    values = pd.DataFrame(
        rng.uniform(size=(n_datasets, n_samplers)),
        index=pd.Index(datasets, name="dataset"),
        columns=samplers,
    )
    reasons = pd.DataFrame(None, index=values.index, columns=samplers, dtype=object)
    for dataset, sampler in missing:
        values.loc[dataset, sampler] = np.nan
        reasons.loc[dataset, sampler] = "task failed: No clusters found"
    return BlockMatrix(values, missing_reasons=reasons)


def test_submatrix_drops_sampler_failing_often() -> None:
    # One sampler fails on 4 of 5 datasets and another on 2, as in a run where
    # kmeans-smote and adasyn fail for documented reasons.
    missing = [("d0", "s1"), ("d1", "s1"), ("d2", "s1"), ("d3", "s1")]
    missing += [("d1", "s4"), ("d3", "s4")]
    values, dropped, dropped_samplers = missing_matrix(missing).complete_submatrix()
    assert list(values.index) == ["d0", "d1", "d2", "d3", "d4"]
    assert list(values.columns) == ["s0", "s2", "s3", "s5"]
    assert dropped.empty
    assert dropped_samplers["sampler"].tolist() == ["s1", "s4"]
    assert "d0: task failed: No clusters found" in dropped_samplers["reason"].iloc[0]


def test_submatrix_drops_dataset_missing_often() -> None:
    # d2 misses most scores and goes first. Then d4 and s5 miss one score
    # each, and dropping s5 loses fewer scores (4 against 5), which keeps
    # 4 x 5 = 20 scores instead of the 3 x 6 = 18 of dropping every block.
    missing = [("d2", f"s{j}") for j in range(4)] + [("d4", "s5")]
    values, dropped, dropped_samplers = missing_matrix(missing).complete_submatrix()
    assert dropped["dataset"].tolist() == ["d2"]
    assert dropped_samplers["sampler"].tolist() == ["s5"]
    assert values.shape == (4, 5)


def test_submatrix_ties_are_deterministic() -> None:
    # Dropping d1 or s2 both remove the single missing cell; s2 contains fewer
    # scores (5 against 6), so dropping it keeps 5 x 5 = 25 scores.
    matrix = missing_matrix([("d1", "s2")])
    values, dropped, dropped_samplers = matrix.complete_submatrix()
    assert dropped.empty
    assert dropped_samplers["sampler"].tolist() == ["s2"]
    # Two samplers with two missing cells each, on different datasets: the
    # greedy pass drops s1 before s3 by name, then s3, and keeps 5 x 4 cells.
    matrix = missing_matrix(
        [("d0", "s3"), ("d1", "s3"), ("d2", "s1"), ("d3", "s1")], n_samplers=6
    )
    values, dropped, dropped_samplers = matrix.complete_submatrix()
    assert dropped_samplers["sampler"].tolist() == ["s1", "s3"]
    assert values.shape == (5, 4)
    assert matrix.complete_submatrix()[0].equals(values)


def test_submatrix_keeps_control() -> None:
    missing = [("d0", "s1"), ("d1", "s1"), ("d2", "s1"), ("d3", "s1")]
    matrix = missing_matrix(missing)
    values, dropped, dropped_samplers = matrix.complete_submatrix(keep="s1")
    assert "s1" in values.columns
    assert dropped["dataset"].tolist() == ["d0", "d1", "d2", "d3"]
    assert dropped_samplers.empty


def test_rank_tests_leave_out_failing_sampler() -> None:
    missing = [("d0", "s1"), ("d1", "s1"), ("d2", "s1"), ("d3", "s1")]
    matrix = missing_matrix(missing)
    friedman = friedman_test(matrix)
    assert friedman.applicable
    assert friedman.n_blocks == 5
    assert friedman.n_samplers == 5
    assert friedman.dropped_samplers["sampler"].tolist() == ["s1"]
    assert "s1" not in set(friedman.average_ranks.index)
    nemenyi = nemenyi_test(matrix)
    pairs = set(nemenyi.comparisons["sampler_a"]) | set(
        nemenyi.comparisons["sampler_b"]
    )
    assert "s1" not in pairs
    assert len(nemenyi.comparisons) == 10


def test_report_lists_dropped_sampler() -> None:
    # smote misses d0, d1 and d3, and adasyn misses one fold of d2. Dropping
    # smote, then d2 (a dataset wins the tie with adasyn), keeps 6 x 2 cells,
    # more than the 3 x 3 left by dropping the four incomplete datasets.
    table = report_table()
    failed = (table["sampler"] == "smote") & table["dataset"].isin(["d0", "d1", "d3"])
    table.loc[failed, "value"] = np.nan
    table.loc[failed, "note"] = "task failed: No clusters found"
    report = build_report(table, "auc")
    assert report.friedman.n_blocks == 6
    assert report.friedman.n_samplers == 2
    across = report.dropped[report.dropped["test"] == "Friedman and post-hoc"]
    assert across["sampler"].dropna().tolist() == ["smote"]
    assert across["dataset"].dropna().tolist() == ["d2"]
    smote_reason = across.loc[across["sampler"] == "smote", "reason"].item()
    assert "d0: 6 of 6 (repeat, fold) scores missing" in smote_reason
    assert "task failed: No clusters found" in smote_reason
    smote = report.summary[report.summary["sampler"] == "smote"]
    assert smote["rank"].isna().all()
    assert smote["note"].str.contains("not ranked").all()
