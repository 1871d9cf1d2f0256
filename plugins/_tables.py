"""Reading and caching helpers shared by the TCGA and ADNI dataset plugins.

Parsed matrices are cached in ``<data_dir>/.cache`` as one ``.npy`` file (the
float64 values) and one ``.json`` file (row and column labels plus per-column
metadata). The cache key is the SHA-256 of the input file's bytes together with
the parser name and options, so renaming a file or changing its modification time
reuses the entry, and any change to its contents parses it again. Nothing
deletes stale entries. Removing the ``.cache`` folder costs only a new parse.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import logging
import os
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from benchmark.components import Dataset
from benchmark.errors import BenchWarning, DatasetError

logger = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
CACHE_DIR_NAME = ".cache"
PREPROCESSED_FILE = "preprocessed.csv"
DEFAULT_TARGET_COLUMN = "target"
# Suite of the two datasets the LEO-CVAE paper evaluates (tcga and adni). They
# need downloaded files, so they stay out of the "omics" suite, which runs
# without downloads.
PAPER_SUITE = "paper"
DATA_DIR_HINT = (
    "Point the --data-dir option (or the BENCH_DATA_DIR environment variable) at the "
    "folder that contains {folder}/."
)

# Cells read as missing values. The expression readers apply them to value
# columns only, so that no gene symbol or probe id turns into NaN.
MISSING_MARKERS = ["", "NA", "NaN", "nan", "N/A", "NULL", "null"]

# Number of offending cells quoted in an error message.
MAX_EXAMPLES = 3


@dataclass(frozen=True)
class LabelledMatrix:
    """A float64 matrix with row and column labels, as parsed from one file.

    ``extra`` contains JSON-serialisable metadata of the parser, for example one
    value per column.
    """

    values: np.ndarray
    rows: list[str]
    columns: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def compression_of(path: Path) -> str | None:
    """Return ``"gzip"`` when the file starts with the gzip magic bytes, else None.

    The file name is not used, so ``HiSeqV2`` may be gzip-compressed and
    ``HiSeqV2.gz`` may be plain text.
    """
    with open(path, "rb") as handle:
        return "gzip" if handle.read(2) == GZIP_MAGIC else None


def _open_text(path: Path) -> IO[str]:
    if compression_of(path) == "gzip":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def read_first_lines(path: Path, count: int) -> list[str]:
    """Return up to ``count`` lines of a plain or gzip text file, without line ends.

    A corrupt or truncated gzip file raises :class:`DatasetError`.
    """
    try:
        with _open_text(path) as handle:
            return [line.rstrip("\r\n") for line in itertools.islice(handle, count)]
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DatasetError(
            f"{path}: cannot be decompressed ({type(error).__name__}: {error}). The "
            "file may be truncated, so download it again."
        ) from error


def read_csv(path: Path, **options: Any) -> pd.DataFrame:
    """Read a plain or gzip-compressed table with :func:`pandas.read_csv`.

    Compression is detected from the content, and bytes that are not UTF-8 are
    replaced. A malformed or truncated file raises :class:`DatasetError`
    naming the file.
    """
    try:
        return pd.read_csv(
            path,
            compression=compression_of(path),
            encoding_errors="replace",
            **options,
        )
    except (ValueError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        # pandas' ParserError and EmptyDataError are ValueErrors.
        raise DatasetError(
            f"{path}: cannot be read as a table ({type(error).__name__}: {error}). "
            "The file may be truncated or not in the expected format, so download "
            "it again."
        ) from error


def find_file(folder: Path, names: Sequence[str]) -> Path | None:
    """Return the first of ``names`` (each also tried with ``.gz``) found in folder."""
    for name in names:
        for suffix in ("", ".gz"):
            path = folder / f"{name}{suffix}"
            if path.is_file():
                return path
    return None


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def missing_files_error(
    dataset: str, folder: Path, missing: Sequence[str], how_to_get: str
) -> DatasetError:
    """Build the error for absent input files: names, source and data-dir hint."""
    listed = ", ".join(missing)
    return DatasetError(
        f"dataset {dataset!r}: missing file(s) in {folder}: {listed}. {how_to_get} "
        + DATA_DIR_HINT.format(folder=folder.name)
    )


def load_cached(
    path: Path,
    data_dir: Path,
    parser_name: str,
    parse: Callable[[Path], LabelledMatrix],
    options: str = "",
) -> LabelledMatrix:
    """Parse ``path`` with ``parse``, or read the result cached by an earlier call.

    ``parser_name`` (with a version number) and ``options`` are part of the key,
    so a parser change or a different option never reads an old entry. Only a
    successful parse is cached, so a file that fails validation fails every time.
    When the cache folder cannot be written, the file is parsed on every call and
    a warning is logged.
    """
    file_digest = sha256_file(path)
    key_text = f"{parser_name}\n{options}\n{file_digest}"
    key = hashlib.sha256(key_text.encode()).hexdigest()[:32]
    cache_dir = data_dir / CACHE_DIR_NAME
    values_path = cache_dir / f"{parser_name}-{key}.npy"
    meta_path = cache_dir / f"{parser_name}-{key}.json"

    cached = _read_cache_entry(values_path, meta_path)
    if cached is not None:
        logger.debug("read %s from cache entry %s", path, values_path.name)
        return cached

    started = time.perf_counter()
    matrix = parse(path)
    logger.info("parsed %s in %.1f s", path, time.perf_counter() - started)

    meta = {
        "source": str(path),
        "sha256": file_digest,
        "parser": parser_name,
        "options": options,
        "shape": list(matrix.values.shape),
        "rows": matrix.rows,
        "columns": matrix.columns,
        "extra": matrix.extra,
    }
    try:
        _write_cache_entry(cache_dir, values_path, meta_path, matrix.values, meta)
    except OSError as error:
        logger.warning(
            "cannot write the parse cache in %s, so %s will be parsed again on the "
            "next load: %s",
            cache_dir,
            path.name,
            error,
        )
    return matrix


def _read_cache_entry(values_path: Path, meta_path: Path) -> LabelledMatrix | None:
    # The JSON file is written last, so its presence marks a complete entry.
    if not (meta_path.is_file() and values_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        values = np.load(values_path, allow_pickle=False)
    except (OSError, ValueError) as error:
        logger.warning("ignoring unreadable cache entry %s: %s", values_path, error)
        return None
    if list(values.shape) != meta.get("shape"):
        logger.warning("ignoring cache entry %s: shape does not match", values_path)
        return None
    return LabelledMatrix(values, meta["rows"], meta["columns"], meta["extra"])


def _write_cache_entry(
    cache_dir: Path,
    values_path: Path,
    meta_path: Path,
    values: np.ndarray,
    meta: dict[str, Any],
) -> None:
    # Each file is written under a temporary name and renamed, so a process
    # reading the cache at the same time never reads a partial file.
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".tmp", delete=False) as f:
        np.save(f, values, allow_pickle=False)
    os.replace(f.name, values_path)

    with tempfile.NamedTemporaryFile(
        "w", dir=cache_dir, suffix=".tmp", delete=False, encoding="utf-8"
    ) as f:
        json.dump(meta, f)
    os.replace(f.name, meta_path)


def numeric_values(
    frame: pd.DataFrame, source: str, row_kind: str, column_kind: str
) -> np.ndarray:
    """Convert a parsed block to float64, or raise naming the bad cells.

    Rows are ``row_kind`` (for example genes) and columns ``column_kind`` (for
    example samples). Non-numeric cells are reported before missing ones, each
    with a count and the first few row and column labels.
    """
    # Positions, not labels, address the cells because labels may repeat.
    bad_cells: list[tuple[str, str, str]] = []
    n_bad = 0
    for j in range(frame.shape[1]):
        series = frame.iloc[:, j]
        if pd.api.types.is_numeric_dtype(series.dtype):
            continue
        converted = pd.to_numeric(series, errors="coerce")
        bad = (converted.isna() & series.notna()).to_numpy()
        n_bad += int(bad.sum())
        for i in np.flatnonzero(bad)[:MAX_EXAMPLES]:
            bad_cells.append(
                (str(frame.index[i]), str(frame.columns[j]), str(series.iloc[i]))
            )
    if n_bad:
        examples = ", ".join(
            f"{row_kind} {row!r} in {column_kind} {column!r}: {value!r}"
            for row, column, value in bad_cells[:MAX_EXAMPLES]
        )
        raise DatasetError(
            f"{source}: {n_bad} value(s) are not numbers ({examples}). Expression "
            "values must be numbers, so download the file again or fix those cells."
        )

    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if missing.any():
        rows, columns = np.nonzero(missing)
        examples = ", ".join(
            f"{row_kind} {frame.index[i]!r} in {column_kind} {frame.columns[j]!r}"
            for i, j in zip(rows[:MAX_EXAMPLES], columns[:MAX_EXAMPLES], strict=True)
        )
        raise DatasetError(
            f"{source}: {int(missing.sum())} value(s) are missing ({examples}). "
            "Download the file again, or impute or drop those cells before loading."
        )
    return values


def drop_duplicate_rows(
    matrix: LabelledMatrix, source: str, row_kind: str
) -> LabelledMatrix:
    """Keep the first row of each repeated row label and warn about the others.

    The first row is kept rather than the mean, so every feature value is a
    measured value. A :class:`BenchWarning` names the repeated labels.
    """
    labels = pd.Index(matrix.rows)
    repeated = labels.duplicated(keep="first")
    if not repeated.any():
        return matrix

    names = sorted(set(labels[repeated]))
    shown = ", ".join(repr(name) for name in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    warnings.warn(
        f"{source}: {int(repeated.sum())} row(s) repeat a {row_kind} that appears "
        f"earlier ({shown}{more}). The first row of each is kept.",
        BenchWarning,
        stacklevel=3,
    )
    keep = ~repeated
    return LabelledMatrix(
        values=matrix.values[keep],
        rows=[row for row, kept in zip(matrix.rows, keep, strict=True) if kept],
        columns=matrix.columns,
        extra=matrix.extra,
    )


def format_counts(counts: dict[str, int]) -> str:
    """Format ``{"reason": n}`` as ``"reason: n, ..."`` in insertion order."""
    return ", ".join(f"{reason}: {n}" for reason, n in counts.items())


def load_preprocessed(
    dataset: str,
    path: Path,
    data_dir: Path,
    target_column: str,
    provenance: dict[str, str],
) -> Dataset:
    """Load a comma-separated samples x features table with a label column.

    The first column contains sample ids (and is not a feature) when its header is
    empty or its values are not all numbers. Every other column except
    ``target_column`` must be numeric.
    """
    matrix = load_cached(
        path,
        data_dir,
        "preprocessed-v1",
        lambda p: _parse_preprocessed(p, target_column),
        options=target_column,
    )
    X = pd.DataFrame(matrix.values, index=matrix.rows, columns=matrix.columns)
    labels = pd.Series(matrix.extra["labels"], dtype=object)
    logger.info(
        "%s: loaded %d samples x %d features from %s (label column %r)",
        dataset,
        X.shape[0],
        X.shape[1],
        path,
        target_column,
    )
    return Dataset.from_frame(dataset, X, labels, provenance=provenance)


def _parse_preprocessed(path: Path, target_column: str) -> LabelledMatrix:
    frame = read_csv(
        path, keep_default_na=False, na_values=MISSING_MARKERS, low_memory=False
    )
    if target_column not in frame.columns:
        shown = ", ".join(repr(c) for c in list(frame.columns)[:8])
        raise DatasetError(
            f"{path}: no label column {target_column!r}. Its first columns are "
            f"{shown}. Rename the label column to {target_column!r}."
        )

    first = frame.columns[0]
    first_is_id = first != target_column and (
        str(first).startswith("Unnamed: ")
        or not pd.api.types.is_numeric_dtype(frame[first].dtype)
    )
    if first_is_id:
        frame = frame.set_index(first)
    labels = frame.pop(target_column)

    non_numeric = [
        str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
    ]
    if non_numeric:
        shown = ", ".join(repr(c) for c in non_numeric[:5])
        more = f" and {len(non_numeric) - 5} more" if len(non_numeric) > 5 else ""
        raise DatasetError(
            f"{path}: feature column(s) {shown}{more} are not numeric. Only the "
            f"first column (sample ids) and {target_column!r} may contain text."
        )

    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    label_values = [None if pd.isna(v) else _json_scalar(v) for v in labels]
    return LabelledMatrix(
        values=values,
        rows=[str(i) for i in frame.index],
        columns=[str(c) for c in frame.columns],
        extra={"labels": label_values},
    )


def _json_scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
