"""Content of a leaderboard report as format-neutral blocks.

:func:`report_blocks` turns a :class:`benchmark.report.Leaderboard` into
headings, paragraphs, bullet lists and tables of plain text, and
:mod:`benchmark._report_formats` renders those blocks as terminal text,
Markdown, LaTeX or HTML. Text uses Unicode symbols (±, ×, α, χ², δ, †); the
LaTeX renderer maps them to LaTeX commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from benchmark._stat_tests import MIN_WILCOXON_BLOCKS

if TYPE_CHECKING:
    from benchmark.report import Leaderboard

# Placeholders for the significance marks in the text of a table note. Each
# renderer replaces them with its own symbols after escaping the text.
BETTER = "@BETTER@"
WORSE = "@WORSE@"
DETAILS = ("full", "summary")
# Bullets of the missing-scores list in a summary report. The full report
# lists every dropped block.
SUMMARY_MISSING_ITEMS = 15


@dataclass
class Heading:
    """Section title; level 1 starts a classifier's section."""

    text: str
    level: int


@dataclass
class Paragraph:
    """Block of running text."""

    text: str


@dataclass
class Bullets:
    """Unordered list of sentences."""

    items: list[str]


@dataclass
class Cell:
    """Leaderboard cell: ``value`` (mean ± std) is what a renderer bolds."""

    value: str
    suffix: str = ""
    best: bool = False
    mark: str = ""


@dataclass
class Table:
    """Table with a caption and notes that explain its symbols.

    ``notes`` may contain :data:`BETTER` and :data:`WORSE`. ``best_note`` is
    shown only by renderers that set the best cells in bold.
    """

    headers: list[str]
    rows: list[list[str | Cell]]
    caption: str
    label: str
    notes: list[str] = field(default_factory=list)
    best_note: str = ""


Block = Heading | Paragraph | Bullets | Table


def format_number(value: object, digits: int = 3) -> str:
    """Format a number with ``digits`` decimals, and a dash for a missing one."""
    if value is None or value is pd.NA:
        return "–"
    number = float(value)  # type: ignore[arg-type]
    if np.isnan(number):
        return "–"
    if np.isinf(number):
        return "∞" if number > 0 else "−∞"
    return f"{number:.{digits}f}".replace("-", "−")


def format_signed(value: object, digits: int = 3) -> str:
    """Format a difference with an explicit sign."""
    text = format_number(value, digits)
    return text if text.startswith(("−", "–")) else f"+{text}"


def format_p(value: object) -> str:
    """Format a p-value or probability for a table cell."""
    text = format_number(value)
    if text == "0.000" and float(value) > 0:  # type: ignore[arg-type]
        return "< 0.001"
    return "0" if text == "0.000" else text


def p_clause(value: float | None) -> str:
    """Return ``p = 0.031`` or ``p < 0.001`` for running text."""
    text = format_p(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def format_rank(rank: float) -> str:
    """Format a rank: whole ranks without decimals, shared ranks with one."""
    if np.isnan(rank):
        return ""
    return f"{rank:.0f}" if float(rank).is_integer() else f"{rank:.1f}"


def cell_parts(cell: pd.Series) -> tuple[str, str]:
    """Split a cell's text into the value (``mean ± std``) and the suffix."""
    if cell["n_scores"] == 0:
        return "–", ""
    value = format_number(cell["mean"])
    if not np.isnan(cell["std"]):
        value += f" ± {format_number(cell['std'])}"
    suffix = ""
    if cell["n_scores"] < cell["n_expected"]:
        suffix += f" [{cell['n_scores']}/{cell['n_expected']}]"
    rank = format_rank(cell["rank"])
    if rank:
        suffix += f" ({rank})"
    return value, suffix


def count(n: int, noun: str) -> str:
    """Return ``"1 dataset"`` or ``"3 datasets"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def direction(board: Leaderboard) -> str:
    return "higher is better" if board.greater_is_better else "lower is better"


def _strip_not_applicable(reason: str) -> str:
    prefix = "not applicable: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason


def _sentence(text: str) -> str:
    """End ``text`` with a full stop; names such as d2 keep their case."""
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def _capitalized(text: str) -> str:
    """Make a sentence of prose that starts in lower case, such as a reason."""
    text = _sentence(text)
    return text[:1].upper() + text[1:]


def _not_applicable(test: str, reason: str) -> str:
    """State why ``test`` did not run, naming it once."""
    if test in reason:
        return _capitalized(reason)
    return _sentence(f"{test}: {reason}")


def _label(board: Leaderboard, kind: str) -> str:
    raw = f"{board.metric}-{board.classifier}-{kind}".lower()
    return "".join(c if c.isalnum() or c == "-" else "-" for c in raw)


def _leaderboard_table(board: Leaderboard) -> Table:
    cells = board.cells.set_index(["sampler", "dataset"])
    rows: list[list[str | Cell]] = []
    for sampler in board.samplers:
        name = f"{sampler} (control)" if sampler == board.control else sampler
        row: list[str | Cell] = [name]
        for dataset in board.datasets:
            cell = cells.loc[(sampler, dataset)]
            value, suffix = cell_parts(cell)
            row.append(Cell(value, suffix, bool(cell["best"]), str(cell["mark"])))
        row.append(format_number(board.average_ranks.get(sampler, np.nan), 2))
        rows.append(row)

    caption = (
        f"{board.metric} ({direction(board)}), classifier {board.classifier}: mean ± "
        f"std over {board.design} per dataset, with the rank within the dataset in "
        "parentheses (1 = best, ties share the average rank)."
    )
    statistics = board.statistics
    n_ranked = 0 if statistics is None else statistics.friedman.n_blocks
    notes = []
    if n_ranked:
        notes.append(
            f"Avg. rank: mean rank over the {count(n_ranked, 'dataset')} on which "
            "every ranked sampler has all its scores."
        )
        assert statistics is not None
        left_out = list(statistics.friedman.dropped_samplers["sampler"])
        if left_out:
            notes.append(
                f"Not ranked: {', '.join(left_out)}, because ranking them would "
                "drop datasets with missing scores (see Missing scores)."
            )
    else:
        notes.append(
            "No dataset has every score of every tested sampler, so no rank or "
            "average rank is given."
        )
    incomplete = board.cells["n_scores"].between(1, board.cells["n_expected"] - 1)
    if incomplete.any():
        notes.append(
            "[n/m]: only n of the m (repeat, fold) scores are present; the mean "
            "uses those n, and the cell is left out of the ranks."
        )
    if board.cells["n_scores"].eq(0).any():
        notes.append("–: no score.")
    notes.append(_marks_note(board))
    return Table(
        headers=["sampler", *board.datasets, "avg. rank"],
        rows=rows,
        caption=caption,
        label=_label(board, "leaderboard"),
        notes=notes,
        best_note="Bold: best mean on the dataset among the complete cells.",
    )


def _marks_note(board: Leaderboard) -> str:
    if board.control is None:
        return "No control sampler was given, so no cell carries a significance mark."
    statistics = board.statistics
    tested = statistics is not None and not statistics.corrected_t.empty
    if not tested:
        return (
            f"Control: {board.control}. No dataset has 2 or more folds, so the "
            "corrected t-test did not run and no cell carries a significance mark."
        )
    return (
        f"{BETTER} significantly better and {WORSE} significantly worse than the "
        f"control {board.control} on that dataset: corrected repeated CV t-test "
        "(Nadeau and Bengio), Holm-corrected over the samplers of the dataset, "
        f"α = {board.alpha:g}."
    )


def _friedman_text(board: Leaderboard) -> str:
    statistics = board.statistics
    if statistics is None:
        return "Friedman test not run: no sampler has a score."
    friedman = statistics.friedman
    if not friedman.applicable:
        return _not_applicable("Friedman", friedman.reason)
    df1, df2 = friedman.iman_davenport_df or (0, 0)
    text = (
        f"Friedman test on N = {count(friedman.n_blocks, 'dataset')} and k = "
        f"{friedman.n_samplers} samplers: χ²({friedman.df}) = "
        f"{format_number(friedman.statistic, 2)}, {p_clause(friedman.p_value)}; "
        f"Iman–Davenport F({df1}, {df2}) = "
        f"{format_number(friedman.iman_davenport_statistic, 2)}, "
        f"{p_clause(friedman.iman_davenport_p_value)}. "
    )
    if friedman.rejected:
        text += f"The average ranks differ at α = {board.alpha:g}."
    else:
        text += (
            f"No difference between the average ranks is detected at "
            f"α = {board.alpha:g}."
        )
    if friedman.note:
        text += " " + _capitalized(friedman.note)
    return text


def _posthoc_summary(board: Leaderboard) -> str:
    """Summarize the post-hoc test across datasets in one paragraph."""
    assert board.statistics is not None
    posthoc = board.statistics.posthoc
    if not posthoc.applicable:
        return _not_applicable(posthoc.test, posthoc.reason)
    significant = posthoc.comparisons[posthoc.comparisons["reject"].fillna(False)]
    pairs = ", ".join(
        f"{a} vs {b}"
        for a, b in zip(significant["sampler_a"], significant["sampler_b"], strict=True)
    )
    if posthoc.critical_difference is not None:
        text = (
            f"Nemenyi critical difference of average ranks: CD = "
            f"{posthoc.critical_difference:.3f} at α = {board.alpha:g}. "
        )
    else:
        text = (
            f"Average ranks against the control {board.control}: z tests, "
            f"Holm-corrected, α = {board.alpha:g}. "
        )
    if pairs:
        text += f"Significant: {pairs}."
    else:
        text += "No pair differs significantly."
    return text


def _ci_header(board: Leaderboard) -> str:
    return f"Δ mean [{100 * (1 - board.alpha):g}% CI]"


def _interval(row: pd.Series) -> str:
    interval = ""
    if not (np.isnan(row["ci_low"]) or np.isnan(row["ci_high"])):
        low, high = format_signed(row["ci_low"]), format_signed(row["ci_high"])
        interval = f" [{low}, {high}]"
    return format_signed(row["mean_difference"]) + interval


def _significant(value: object) -> str:
    if value is None or value is pd.NA:
        return "–"
    return "yes" if bool(value) else "no"


def _drop_empty_notes(headers: list[str], rows: list[list[str | Cell]]) -> None:
    if rows and all(not row[-1] for row in rows):
        headers.pop()
        for row in rows:
            row.pop()


def _pairwise_table(board: Leaderboard, kind: str) -> Table | Paragraph:
    """Tabulate the post-hoc (``kind="posthoc"``) or Wilcoxon comparisons."""
    assert board.statistics is not None
    result = getattr(board.statistics, kind)
    comparisons = result.comparisons
    if comparisons.empty:
        return Paragraph(_not_applicable(result.test, result.reason))
    rank_test = "rank_difference" in comparisons.columns
    nemenyi = result.test == "Nemenyi"
    headers = ["pair", "N"]
    if rank_test:
        headers.append("Δ avg. rank")
    if nemenyi:
        headers.append("q")
    elif rank_test:
        headers.append("z")
    else:
        headers.append("W")
    headers += ["p"] if nemenyi else ["p", "p (Holm)"]
    headers += ["significant", _ci_header(board), "Cliff's δ", "note"]
    rows: list[list[str | Cell]] = []
    for _, row in comparisons.iterrows():
        cells: list[str | Cell] = [
            f"{row['sampler_a']} vs {row['sampler_b']}",
            str(row["n_blocks"]),
        ]
        if rank_test:
            cells.append(format_signed(row["rank_difference"], 2))
        cells.append(format_number(row["statistic"], 2))
        cells.append(format_p(row["p_value"]))
        if not nemenyi:
            cells.append(format_p(row["p_adjusted"]))
        note = _capitalized(row["note"]) if row["note"] else ""
        if not rank_test and row["n_blocks"] < MIN_WILCOXON_BLOCKS:
            # The caption gives the reason once for every such pair.
            note = f"Not tested: N < {MIN_WILCOXON_BLOCKS}."
        cells += [
            _significant(row["reject"]),
            _interval(row),
            format_signed(row["cliffs_delta"], 2),
            note,
        ]
        rows.append(cells)
    _drop_empty_notes(headers, rows)

    effects = (
        "Differences are the first sampler minus the second; Δ mean is over the "
        "per-dataset means with a t interval, and Cliff's δ compares the "
        "per-dataset means."
    )
    if nemenyi:
        caption = (
            f"Nemenyi test of all pairs across datasets, α = {board.alpha:g}; "
            f"critical difference {result.critical_difference:.3f} in average rank. "
            "q is the studentized range statistic; Nemenyi p-values already control "
            "the family-wise error rate."
        )
    elif rank_test:
        caption = (
            f"Average rank of each sampler against the control {board.control} "
            "across datasets: z test of the rank difference, Holm-corrected over "
            f"the {len(comparisons)} comparisons, α = {board.alpha:g}."
        )
    else:
        caption = (
            "Wilcoxon signed-rank tests of the per-dataset means, Holm-corrected "
            f"over the pairs tested, α = {board.alpha:g}. W is the smaller signed-"
            "rank sum. The Wilcoxon signed-rank test needs at least "
            f"{MIN_WILCOXON_BLOCKS} datasets with both samplers complete (N) to "
            "reach p < 0.05, so pairs with fewer are not tested."
        )
    blocks_reason = ""
    if not result.applicable:
        blocks_reason = " " + _capitalized(result.reason)
        if not rank_test and (comparisons["n_blocks"] < MIN_WILCOXON_BLOCKS).all():
            minimum = MIN_WILCOXON_BLOCKS
            blocks_reason = f" No pair has N ≥ {minimum}, so none is tested."
    return Table(
        headers=headers,
        rows=rows,
        caption=caption + blocks_reason,
        label=_label(board, kind),
        notes=[effects],
    )


def _within_table(board: Leaderboard) -> Table | Paragraph:
    assert board.statistics is not None
    if board.control is None:
        return Paragraph(
            "Not run: no control sampler was given. With --control SAMPLER, every "
            "other sampler is compared with it on each dataset by the corrected "
            "repeated CV t-test and the Bayesian correlated t-test."
        )

    t_tests = board.statistics.corrected_t
    if t_tests.empty:
        methods = board.statistics.methods.set_index("test")
        reason = methods.loc["corrected repeated CV t-test (Holm)", "reason"]
        return Paragraph("Not run. " + _capitalized(_strip_not_applicable(reason)))

    bayes = board.statistics.bayesian.set_index(["dataset", "sampler_a"])
    headers = ["dataset", "sampler", "n", _ci_header(board), "Cliff's δ", "t (df)"]
    headers += ["p", "p (Holm)", "significant", "P(better)", "P(equiv.)"]
    headers += ["P(worse)", "note"]

    rows: list[list[str | Cell]] = []
    for _, row in t_tests.iterrows():
        posterior = bayes.loc[(row["dataset"], row["sampler_a"])]
        notes = list(dict.fromkeys(n for n in (row["note"], posterior["note"]) if n))
        t_value = format_number(row["statistic"], 2)
        if not pd.isna(row["df"]):
            t_value += f" ({row['df']})"
        rows.append(
            [
                str(row["dataset"]),
                str(row["sampler_a"]),
                str(row["n_blocks"]),
                _interval(row),
                format_signed(row["cliffs_delta"], 2),
                t_value,
                format_p(row["p_value"]),
                format_p(row["p_adjusted"]),
                _significant(row["reject"]),
                format_number(posterior["p_better"]),
                format_number(posterior["p_equivalent"]),
                format_number(posterior["p_worse"]),
                _capitalized("; ".join(notes)) if notes else "",
            ]
        )
    _drop_empty_notes(headers, rows)

    caption = (
        f"Each sampler against the control {board.control} on the (repeat, fold) "
        "scores of each dataset. Δ mean is the sampler minus the control, with the "
        "corrected interval. t: corrected repeated CV t-test (Nadeau and Bengio) "
        "with n_test/n_train = 1/(k − 1) for k folds; p (Holm) over the samplers "
        f"of the dataset, α = {board.alpha:g}. P(better), P(equiv.), P(worse): "
        "Bayesian correlated t-test (Corani and Benavoli) with a region of "
        f"practical equivalence of ±{board.rope:g}."
    )
    return Table(headers, rows, caption, _label(board, "within"))


def _methods(board: Leaderboard) -> list[Block]:
    assert board.statistics is not None
    statistics = board.statistics
    preface = (
        f"Scores: {board.metric} ({direction(board)}) of classifier "
        f"{board.classifier}; each cell is the mean over {board.design}. Across "
        "datasets the datasets are the samples, so the tests use ranks (Friedman, "
        "post-hoc) or signed ranks (Wilcoxon) of the per-dataset means. Within a "
        "dataset the folds share training data, so the t-tests widen the variance "
        "by n_test/n_train. Every frequentist test uses the family-wise "
        f"significance level α = {board.alpha:g}."
    )
    items = []
    for row in statistics.methods.itertuples(index=False):
        details = (
            f"N = {count(row.n_datasets, 'dataset')}, "
            f"k = {count(row.n_samplers, 'sampler')}"
        )
        if not pd.isna(row.alpha):
            details += f", α = {row.alpha:g}"
        reason = str(row.reason)
        status = reason if reason.startswith("not applicable") else f"used. {reason}"
        items.append(_sentence(f"{row.test} [{row.scope}; {details}]: {status}"))
    for sampler, reason in board.excluded.items():
        items.append(f"{sampler}: {reason}.")
    return [Heading("Methods", 2), Paragraph(preface), Bullets(items)]


def _failure_items(board: Leaderboard) -> list[str]:
    items = []
    failures = board.failures
    if failures.empty:
        return items
    errors = failures["error"].fillna("").astype(str).str.split("\n").str[0]
    grouped = failures.assign(first_line=errors.str.slice(0, 160)).groupby(
        ["dataset", "sampler", "first_line"], sort=True
    )
    for (dataset, sampler, error), rows in grouped:
        folds = ", ".join(
            f"r{r}f{f}" for r, f in zip(rows["repeat"], rows["fold"], strict=True)
        )
        items.append(
            f"{sampler} failed on {dataset} in {len(rows)} fold(s) ({folds}): {error}"
        )
    return items


def _dropped_items(board: Leaderboard) -> list[str]:
    assert board.statistics is not None
    dropped = board.statistics.dropped
    items = []
    across = dropped[dropped["test"] == "Friedman and post-hoc"]
    for row in across.itertuples(index=False):
        name = row.dataset if row.sampler is None else row.sampler
        items.append(
            f"{name} left out of the Friedman and post-hoc tests and the "
            f"average ranks: {row.reason}"
        )
    wilcoxon = dropped[
        (dropped["scope"] == "across datasets")
        & (dropped["test"] != "Friedman and post-hoc")
    ]
    for dataset, rows in wilcoxon.groupby("dataset", sort=True):
        pairs = ", ".join(
            f"{a} vs {b}"
            for a, b in zip(rows["sampler_a"], rows["sampler_b"], strict=True)
        )
        items.append(f"{dataset} left out of the Wilcoxon pair(s) {pairs}")
    within = dropped[dropped["scope"] == "within each dataset"]
    for row in within.itertuples(index=False):
        if pd.isna(row.repeat):
            items.append(
                f"{row.dataset} left out of the tests within a dataset: {row.reason}"
            )
            continue
        items.append(
            f"{row.dataset} repeat {row.repeat} fold {row.fold} left out of "
            f"{row.sampler_a} vs {row.sampler_b} within the dataset: {row.reason}"
        )
    return items


def _missing(board: Leaderboard, detail: str, source: str | None) -> list[Block]:
    policy = (
        "A mean uses the scores present. The Friedman and post-hoc tests and "
        "the average ranks use a complete table of datasets by samplers. When "
        "scores are missing, it drops either every incomplete dataset or, one "
        "at a time, the dataset or sampler with the most incomplete cells, "
        "whichever keeps more cells. A Wilcoxon pair uses the datasets where "
        "both samplers are complete, and the tests within a dataset use the "
        "folds where both samplers have a score."
    )
    items = _failure_items(board)
    items += [f"{sampler}: {reason}." for sampler, reason in board.excluded.items()]
    if board.statistics is not None:
        items += _dropped_items(board)
    blocks: list[Block] = [Heading("Missing scores", 2)]
    if not items:
        if detail == "full":
            blocks.append(Paragraph(policy))
        blocks.append(Paragraph("No score is missing."))
        return blocks
    blocks.append(Paragraph(policy))
    if detail == "summary" and len(items) > SUMMARY_MISSING_ITEMS:
        more = len(items) - SUMMARY_MISSING_ITEMS
        items = items[:SUMMARY_MISSING_ITEMS]
        command = f"bench report {source}" if source else "bench report"
        items.append(f"… and {more} more; {command} lists them all.")
    blocks.append(Bullets([_sentence(item) for item in items]))
    return blocks


def report_blocks(
    board: Leaderboard, detail: str = "full", source: str | None = None
) -> list[Block]:
    """Build the blocks of one classifier's section.

    ``detail="summary"`` keeps the leaderboard, the Friedman test, a
    one-paragraph post-hoc summary and the missing scores. ``"full"`` adds
    the pairwise tables, the tests within each dataset and the methods.
    ``source`` names the scores in the hint at the end of a summary.
    """
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {DETAILS}, got {detail!r}.")
    blocks: list[Block] = [
        Heading(f"{board.metric}, classifier {board.classifier}", 1),
        _leaderboard_table(board),
        Heading("Across datasets", 2),
        Paragraph(_friedman_text(board)),
    ]
    statistics = board.statistics
    if statistics is not None and detail == "summary":
        blocks.append(Paragraph(_posthoc_summary(board)))
    elif statistics is not None:
        blocks.append(_pairwise_table(board, "posthoc"))
        blocks.append(_pairwise_table(board, "wilcoxon"))
        title = "Within each dataset"
        if board.control is not None:
            title += f", against the control {board.control}"
        blocks += [Heading(title, 2), _within_table(board)]
        blocks += _methods(board)
    blocks += _missing(board, detail, source)
    if detail == "summary":
        command = f"bench report {source}" if source else "bench report"
        blocks.append(
            Paragraph(
                f"{command} adds the pairwise tests with effect sizes, the methods "
                "and, with --control, the tests within each dataset."
            )
        )
    return blocks
