"""Critical-difference diagram of the Nemenyi test (Demšar, 2006).

Each classifier gets one panel: an axis of average ranks (1 = best, on the
left), every sampler placed at its average rank, a bar as long as the
critical difference, and thick lines joining groups of samplers whose average
ranks do not differ significantly. matplotlib is imported only when a diagram
is drawn, and only its object-oriented API is used, so the diagram never opens
a window and leaves the pyplot backend alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import ConfigurationError

if TYPE_CHECKING:
    from benchmark.report import Leaderboard

__all__ = ["CD_DIAGRAM_FORMATS", "write_cd_diagram"]

CD_DIAGRAM_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_ROW = 0.3  # vertical distance between two sampler labels, in data units
_GROUP_ROW = 0.15  # vertical distance between two group lines


def _not_drawable_reason(board: Leaderboard) -> str:
    if board.nemenyi is None:
        return "no sampler has a score"
    reason = board.nemenyi.reason
    prefix = "not applicable: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason


def _groups(order: list[str], rejected: set[frozenset[str]]) -> list[tuple[int, int]]:
    """Return maximal runs (first, last) of samplers with no significant pair.

    ``order`` is sorted by average rank, so a run is free of significant
    pairs when its two ends are not significantly different.
    """
    groups: list[tuple[int, int]] = []
    for first in range(len(order)):
        last = first
        while (
            last + 1 < len(order)
            and frozenset((order[first], order[last + 1])) not in rejected
        ):
            last += 1
        if last > first and (not groups or last > groups[-1][1]):
            groups.append((first, last))
    return groups


def _panel_height(board: Leaderboard) -> float:
    """Height of a panel in data units, which are also its height in inches."""
    nemenyi = board.nemenyi
    if nemenyi is None or not nemenyi.applicable:
        return 0.8
    k = len(nemenyi.average_ranks)
    return 1.6 + _GROUP_ROW * (k - 1) + _ROW * math.ceil(k / 2)


def _draw_panel(ax: Any, board: Leaderboard) -> None:
    ax.set_axis_off()
    nemenyi = board.nemenyi
    if nemenyi is None or not nemenyi.applicable:
        ax.text(
            0.5,
            0.5,
            f"{board.metric}, classifier {board.classifier}: no critical-difference "
            f"diagram, because {_not_drawable_reason(board)}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
        )
        return
    ranks = nemenyi.average_ranks
    order = list(ranks.index)
    k = len(order)
    cd = float(nemenyi.critical_difference or 0.0)
    line = {"color": "black", "linewidth": 1, "clip_on": False}

    ax.plot([1, k], [0, 0], **line)
    for tick in range(1, k + 1):
        ax.plot([tick, tick], [0, 0.1], **line)
        ax.text(tick, 0.15, str(tick), ha="center", va="bottom", fontsize=9)
    ax.plot([1, 1 + cd], [0.7, 0.7], **line)
    for end in (1, 1 + cd):
        ax.plot([end, end], [0.65, 0.75], **line)
    ax.text(1 + cd / 2, 0.8, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)

    comparisons = nemenyi.comparisons
    rejected = {
        frozenset((a, b))
        for a, b, reject in zip(
            comparisons["sampler_a"],
            comparisons["sampler_b"],
            comparisons["reject"].fillna(False),
            strict=True,
        )
        if reject
    }
    groups = _groups(order, rejected)
    for row, (first, last) in enumerate(groups):
        y = -0.2 - _GROUP_ROW * row
        left, right = ranks.iloc[first] - 0.03, ranks.iloc[last] + 0.03
        ax.plot([left, right], [y, y], color="black", linewidth=3, clip_on=False)

    top = -0.2 - _GROUP_ROW * max(len(groups), 1) - 0.15
    n_left = math.ceil(k / 2)
    sides = [
        (order[:n_left], 1 - 0.4, "right"),
        (order[n_left:][::-1], k + 0.4, "left"),
    ]
    for names, x_end, align in sides:
        for row, name in enumerate(names):
            rank = float(ranks[name])
            y = top - _ROW * row
            ax.plot([rank, rank, x_end], [0, y, y], **line)
            offset = -0.05 if align == "right" else 0.05
            label = f"{name} ({rank:.2f})"
            ax.text(x_end + offset, y, label, ha=align, va="center", fontsize=9)

    ax.set_xlim(1, k)
    ax.set_ylim(top - _ROW * (n_left - 1) - 0.2, 1.1)
    ax.set_title(
        f"{board.metric}, classifier {board.classifier}: Nemenyi test, "
        f"α = {board.alpha:g}, N = {nemenyi.comparisons['n_blocks'].iloc[0]} "
        "datasets",
        fontsize=10,
    )


def write_cd_diagram(boards: Sequence[Leaderboard], path: str | Path) -> Path:
    """Draw the critical-difference diagram of each leaderboard into one file.

    The format follows the suffix of ``path``: ``.png``, ``.svg`` or ``.pdf``.
    A classifier on which the Nemenyi test cannot run gets a panel stating
    why. The diagram always uses the Nemenyi test of all pairs, also when the
    report compares with a control.

    Raises
    ------
    benchmark.errors.ConfigurationError
        If the suffix is not supported, the Nemenyi test cannot run for any
        classifier, or matplotlib is not installed.
    """
    path = Path(path)
    fmt = CD_DIAGRAM_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigurationError(
            f"cannot write a critical-difference diagram to {path}: the file name "
            f"must end in {', '.join(CD_DIAGRAM_FORMATS)}."
        )
    if not any(b.nemenyi is not None and b.nemenyi.applicable for b in boards):
        reasons = "; ".join(
            f"classifier {b.classifier}: {_not_drawable_reason(b)}" for b in boards
        )
        raise ConfigurationError(
            f"cannot draw a critical-difference diagram, because the Nemenyi test "
            f"is not applicable ({reasons})."
        )
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigurationError(
            "the critical-difference diagram needs matplotlib, which is not "
            "installed. Install it with `python -m pip install matplotlib`."
        ) from None

    heights = [_panel_height(board) for board in boards]
    figure = Figure(figsize=(7.0, sum(heights)))
    axes = figure.subplots(len(boards), 1, squeeze=False, height_ratios=heights)
    for ax, board in zip(axes[:, 0], boards, strict=True):
        _draw_panel(ax, board)
    figure.savefig(path, format=fmt, bbox_inches="tight")
    return path
