"""Render leaderboard reports as terminal text, Markdown, LaTeX, HTML or CSV.

The text formats render the blocks of
:func:`benchmark._report_content.report_blocks`. CSV is a tidy table of the
leaderboard cells with the comparisons against the control, for further
analysis.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark._report_content import (
    BETTER,
    WORSE,
    Block,
    Bullets,
    Cell,
    Heading,
    Paragraph,
    Table,
    report_blocks,
)
from benchmark.errors import ConfigurationError

if TYPE_CHECKING:
    from benchmark.report import Leaderboard

__all__ = ["FORMATS", "render_report"]

FORMATS = ("terminal", "markdown", "latex", "html", "csv")
WIDTH = 88


def _text_cell(
    cell: str | Cell, marks: dict[str, str], bold: Callable[[str], str]
) -> str:
    if isinstance(cell, str):
        return cell
    value = bold(cell.value) if cell.best else cell.value
    return value + cell.suffix + marks.get(cell.mark, "")


def _notes(block: Table) -> list[str]:
    """Return a table's notes, led by ``best_note`` when a cell is in bold."""
    bold = any(isinstance(c, Cell) and c.best for row in block.rows for c in row)
    return [block.best_note, *block.notes] if bold and block.best_note else block.notes


def _marks(text: str, marks: dict[str, str]) -> str:
    return text.replace(BETTER, marks["better"]).replace(WORSE, marks["worse"])


# Terminal text

_TERMINAL_MARKS = {"better": "*", "worse": "†"}


def _wrap(text: str, **options: str) -> str:
    return textwrap.fill(text, WIDTH, break_on_hyphens=False, **options)


def _render_terminal(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            underline = "=" if block.level == 1 else "-"
            parts.append(f"{block.text}\n{underline * len(block.text)}")
        elif isinstance(block, Paragraph):
            parts.append(_wrap(block.text))
        elif isinstance(block, Bullets):
            items = [
                _wrap(item, initial_indent="- ", subsequent_indent="  ")
                for item in block.items
            ]
            parts.append("\n".join(items))
        else:
            rows = [
                [_text_cell(c, _TERMINAL_MARKS, str) for c in row] for row in block.rows
            ]
            table = tabulate(
                rows, headers=block.headers, tablefmt="simple", disable_numparse=True
            )
            notes = [_wrap(_marks(note, _TERMINAL_MARKS)) for note in block.notes]
            parts.append("\n".join([_wrap(block.caption), table, *notes]))
    return "\n\n".join(parts)


# Markdown

_MARKDOWN_MARKS = {"better": "\\*", "worse": "†"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_|])")
# A "<" that could open an HTML tag or autolink, as in "<b" or "</".
_MARKDOWN_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def _md(text: str) -> str:
    return _MARKDOWN_TAG.sub("&lt;", _MARKDOWN_SPECIAL.sub(r"\\\1", text))


def _md_cell(cell: str | Cell) -> str:
    if isinstance(cell, str):
        return _md(cell)
    escaped = Cell(_md(cell.value), _md(cell.suffix), cell.best, cell.mark)
    return _text_cell(escaped, _MARKDOWN_MARKS, lambda value: f"**{value}**")


def _render_markdown(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * (block.level + 1)} {_md(block.text)}")
        elif isinstance(block, Paragraph):
            parts.append(_md(block.text))
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {_md(item)}" for item in block.items))
        else:
            rows = [[_md_cell(cell) for cell in row] for row in block.rows]
            headers = [_md(header) for header in block.headers]
            table = tabulate(
                rows, headers=headers, tablefmt="github", disable_numparse=True
            )
            notes = [_md(note) for note in _notes(block)]
            notes = [_marks(note, _MARKDOWN_MARKS) for note in notes]
            parts.append("\n\n".join([f"*{_md(block.caption)}*", table, *notes]))
    return "\n\n".join(parts)


# HTML

_HTML_MARKS = {"better": "<sup>*</sup>", "worse": "<sup>†</sup>"}


def _html_cell(cell: str | Cell) -> str:
    if isinstance(cell, str):
        return html.escape(cell)
    escaped = Cell(
        html.escape(cell.value), html.escape(cell.suffix), cell.best, cell.mark
    )
    return _text_cell(escaped, _HTML_MARKS, lambda value: f"<strong>{value}</strong>")


def _html_table(block: Table) -> str:
    notes = [html.escape(note) for note in _notes(block)]
    caption = " ".join([html.escape(block.caption), *notes])
    header = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{_html_cell(cell)}</td>" for cell in row) + "</tr>"
        for row in block.rows
    )
    return (
        f'<table id="{block.label}">\n<caption>{_marks(caption, _HTML_MARKS)}'
        f"</caption>\n<thead><tr>{header}</tr></thead>\n<tbody>\n{body}\n</tbody>\n"
        "</table>"
    )


def _render_html(blocks: Sequence[Block]) -> str:
    parts = ["<section>"]
    for block in blocks:
        if isinstance(block, Heading):
            level = block.level + 1
            parts.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = "\n".join(f"<li>{html.escape(item)}</li>" for item in block.items)
            parts.append(f"<ul>\n{items}\n</ul>")
        else:
            parts.append(_html_table(block))
    parts.append("</section>")
    return "\n".join(parts)


# LaTeX

_LATEX_MARKS = {"better": r"\textsuperscript{*}", "worse": r"\textsuperscript{\dag}"}
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    # Unicode symbols of the report text, as commands of the LaTeX kernel so
    # that the output compiles with pdflatex and no extra package.
    "±": r"$\pm$",
    "×": r"$\times$",
    "α": r"$\alpha$",
    "δ": r"$\delta$",
    "Δ": r"$\Delta$",
    "χ": r"$\chi$",
    "²": r"\textsuperscript{2}",
    "−": r"$-$",
    "–": "--",
    "∞": r"$\infty$",
    "†": r"\dag{}",
    "…": r"\ldots{}",
}
_LATEX_PATTERN = re.compile("|".join(re.escape(key) for key in _LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters and map the report's Unicode symbols."""
    return _LATEX_PATTERN.sub(lambda match: _LATEX_SPECIAL[match.group(0)], text)


def _latex_cell(cell: str | Cell) -> str:
    if isinstance(cell, str):
        return latex_escape(cell)
    escaped = Cell(
        latex_escape(cell.value), latex_escape(cell.suffix), cell.best, cell.mark
    )
    return _text_cell(escaped, _LATEX_MARKS, lambda value: f"\\textbf{{{value}}}")


def _latex_table(block: Table) -> str:
    notes = _notes(block)
    caption = _marks(latex_escape(" ".join([block.caption, *notes])), _LATEX_MARKS)
    columns = "l" + "r" * (len(block.headers) - 1)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        f"\\caption{{{caption}}}",
        f"\\label{{tab:{block.label}}}",
        f"\\begin{{tabular}}{{{columns}}}",
        r"\toprule",
        " & ".join(latex_escape(header) for header in block.headers) + r" \\",
        r"\midrule",
    ]
    lines += [
        " & ".join(_latex_cell(cell) for cell in row) + r" \\" for row in block.rows
    ]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


def _render_latex(blocks: Sequence[Block]) -> str:
    parts = [
        "% Generated by bench report; needs \\usepackage{booktabs} in the preamble."
    ]
    for block in blocks:
        if isinstance(block, Heading):
            command = "subsection*" if block.level == 1 else "paragraph"
            parts.append(f"\\{command}{{{latex_escape(block.text)}}}")
        elif isinstance(block, Paragraph):
            parts.append(latex_escape(block.text))
        elif isinstance(block, Bullets):
            items = "\n".join(f"\\item {latex_escape(item)}" for item in block.items)
            parts.append(f"\\begin{{itemize}}\n{items}\n\\end{{itemize}}")
        else:
            parts.append(_latex_table(block))
    return "\n\n".join(parts)


# CSV

_CSV_COMPARISON = [
    "mean_difference",
    "ci_low",
    "ci_high",
    "cliffs_delta",
    "statistic",
    "p_value",
    "p_adjusted",
]
_CSV_BAYES = ["p_better", "p_equivalent", "p_worse"]


def _csv_frame(board: Leaderboard) -> pd.DataFrame:
    cells = board.cells.copy()
    cells.insert(0, "metric", board.metric)
    cells.insert(0, "classifier", board.classifier)
    cells["average_rank"] = cells["sampler"].map(board.average_ranks)
    cells["control"] = board.control or ""
    cells = cells.rename(columns={"mark": "vs_control"})
    statistics = board.statistics
    keys = ["dataset", "sampler"]
    t_tests = pd.DataFrame(columns=[*keys, *_CSV_COMPARISON])
    bayes = pd.DataFrame(columns=[*keys, *_CSV_BAYES])
    if statistics is not None and not statistics.corrected_t.empty:
        renamed = {"sampler_a": "sampler"}
        t_tests = statistics.corrected_t.rename(columns=renamed)[
            [*keys, *_CSV_COMPARISON]
        ]
        bayes = statistics.bayesian.rename(columns=renamed)[[*keys, *_CSV_BAYES]]
    merged = cells.merge(t_tests, on=keys, how="left").merge(bayes, on=keys, how="left")
    merged = merged.rename(columns={"statistic": "t_statistic"})
    note = merged.pop("note")
    merged["note"] = note
    numeric = [
        *_CSV_COMPARISON[:-3],
        "t_statistic",
        "p_value",
        "p_adjusted",
        *_CSV_BAYES,
    ]
    merged[numeric] = merged[numeric].astype(np.float64)
    return merged


def _render_csv(boards: Sequence[Leaderboard]) -> str:
    frames = [_csv_frame(board) for board in boards]
    return pd.concat(frames, ignore_index=True).to_csv(index=False)


_RENDERERS: dict[str, Callable[[Sequence[Block]], str]] = {
    "terminal": _render_terminal,
    "markdown": _render_markdown,
    "latex": _render_latex,
    "html": _render_html,
}


def render_report(
    boards: Sequence[Leaderboard],
    fmt: str = "terminal",
    *,
    detail: str = "full",
    source: object = None,
) -> str:
    """Render leaderboards and their tests as text, ending with a newline.

    Parameters
    ----------
    boards : sequence of Leaderboard
        As from :func:`benchmark.report.build_leaderboards`.
    fmt : str
        One of :data:`FORMATS`. ``"latex"`` needs the booktabs package;
        ``"csv"`` returns one tidy table of the cells and ignores ``detail``.
    detail : str, default "full"
        ``"full"`` or ``"summary"``, as in
        :func:`benchmark._report_content.report_blocks`.
    source : path or str, optional
        Where the scores came from, named in the hints of a summary.
    """
    if fmt not in FORMATS:
        raise ConfigurationError(
            f"unknown report format {fmt!r}. Choose one of {', '.join(FORMATS)}."
        )
    if fmt == "csv":
        return _render_csv(boards)
    render = _RENDERERS[fmt]
    label = None if source is None else str(source)
    sections = [render(report_blocks(b, detail, label)) for b in boards]
    separator = "\n\n\n" if fmt in ("terminal", "markdown") else "\n\n"
    return separator.join(sections) + "\n"
