"""TCGA lung cancer (LUAD + LUSC) gene expression with a progression label.

Registers three datasets read from ``<data_dir>/tcga``:

- ``tcga``: the one-year landmark label, or ``tcga/preprocessed.csv`` when that
  file exists;
- ``tcga-landmark``: the landmark label, always built from the Xena files;
- ``tcga-pfi``: the progression-free interval (PFI) event flag.

The files, the accepted alternatives and the label definitions are described in
``datasets/tcga/README.md``. :func:`load_tcga` takes the same options as Python
arguments.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.components import Dataset, DatasetSpec
from benchmark.errors import ConfigurationError, DatasetError
from benchmark.hookspecs import hookimpl
from plugins._tables import (
    DEFAULT_TARGET_COLUMN,
    MAX_EXAMPLES,
    MISSING_MARKERS,
    PAPER_SUITE,
    PREPROCESSED_FILE,
    LabelledMatrix,
    drop_duplicate_rows,
    find_file,
    format_counts,
    load_cached,
    load_preprocessed,
    missing_files_error,
    numeric_values,
    read_csv,
    read_first_lines,
)

__all__ = [
    "DEFAULT_LANDMARK_DAYS",
    "DEFAULT_TARGET",
    "LANDMARK_DAYS_ENV",
    "TARGETS",
    "bench_register_datasets",
    "load_tcga",
    "missing_tcga_files",
]

logger = logging.getLogger(__name__)

FOLDER = "tcga"
LEGACY_HUB = "https://tcga.xenahubs.net"
GDC_HUB = "https://gdc.xenahubs.net"

TARGETS = ("landmark", "pfi")
# The landmark label is the default because it is the only definition that fits
# the class balance implied by the published LEO-CVAE results, as
# datasets/tcga/README.md explains.
DEFAULT_TARGET = "landmark"
DEFAULT_LANDMARK_DAYS = 365
LANDMARK_DAYS_ENV = "BENCH_TCGA_LANDMARK_DAYS"

# Project, participant, sample type (group 1), then an optional vial letter
# (group 2) and the rest of an aliquot barcode.
BARCODE = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}-(\d{2})([A-Z])?(-[A-Z0-9-]+)?$")
PRIMARY_TUMOUR = "01"
PATIENT_LENGTH = 12
SAMPLE_LENGTH = 15

# GDC hub expression matrices, in order of preference.
GDC_KINDS = ("star_tpm", "star_fpkm", "star_counts", "htseq_fpkm", "htseq_counts")

CITATION = (
    "Goldman MJ et al. Visualizing and interpreting cancer genomics data via the "
    "Xena platform. Nat Biotechnol 38, 675-678 (2020). Liu J et al. An integrated "
    "TCGA pan-cancer clinical data resource to drive high-quality survival outcome "
    "analytics. Cell 173, 400-416 (2018)."
)
LICENCE = "TCGA open-access data; NIH Genomic Data Commons data use policies apply."


@dataclass(frozen=True)
class _Layout:
    """One accepted set of expression files, each given by candidate names."""

    label: str
    source: str
    expression: tuple[tuple[str, ...], ...]


LAYOUTS = (
    _Layout(
        "legacy TCGA hub, LUAD + LUSC",
        LEGACY_HUB,
        (("TCGA.LUAD.sampleMap/HiSeqV2",), ("TCGA.LUSC.sampleMap/HiSeqV2",)),
    ),
    _Layout("legacy TCGA hub, LUNG", LEGACY_HUB, (("TCGA.LUNG.sampleMap/HiSeqV2",),)),
    *(
        _Layout(
            f"GDC hub {kind}",
            GDC_HUB,
            ((f"TCGA-LUAD.{kind}.tsv",), (f"TCGA-LUSC.{kind}.tsv",)),
        )
        for kind in GDC_KINDS
    ),
)
SURVIVAL = (
    ("survival/LUAD_survival.txt", "LUAD_survival.txt"),
    ("survival/LUSC_survival.txt", "LUSC_survival.txt"),
)

HOW_TO_GET = (
    "Download TCGA.LUAD.sampleMap/HiSeqV2, TCGA.LUSC.sampleMap/HiSeqV2 (gene "
    "expression RNAseq, IlluminaHiSeq), survival/LUAD_survival.txt and "
    f"survival/LUSC_survival.txt from the UCSC Xena TCGA hub ({LEGACY_HUB}). Save "
    "each file under its dataset id inside the tcga folder, for example "
    "tcga/TCGA.LUAD.sampleMap/HiSeqV2. A .gz suffix is accepted. Instead of the "
    "two HiSeqV2 files, TCGA.LUNG.sampleMap/HiSeqV2 or the GDC hub "
    f"({GDC_HUB}) matrices TCGA-LUAD.star_tpm.tsv and TCGA-LUSC.star_tpm.tsv are "
    "accepted, but the survival files are needed in every case."
)


@dataclass(frozen=True)
class _Inputs:
    folder: Path
    layout: _Layout
    expression: list[Path]
    survival: list[Path]

    def names(self, paths: list[Path]) -> str:
        """Return the paths relative to the tcga folder, comma-separated."""
        return ", ".join(str(path.relative_to(self.folder)) for path in paths)


def missing_tcga_files(data_dir: Path, *, use_preprocessed: bool = False) -> list[str]:
    """Return the absent input files, as paths relative to ``data_dir / "tcga"``.

    When no expression layout is complete, the files of the layout with the
    most files present are listed (the LUAD + LUSC HiSeqV2 pair when none is).
    """
    folder = Path(data_dir) / FOLDER
    if use_preprocessed and find_file(folder, (PREPROCESSED_FILE,)):
        return []
    _, missing = _find_inputs(folder)
    return missing


def _find_inputs(folder: Path) -> tuple[_Inputs | None, list[str]]:
    survival = [find_file(folder, names) for names in SURVIVAL]
    missing = [
        names[0] for names, path in zip(SURVIVAL, survival, strict=True) if path is None
    ]

    best: tuple[int, _Layout, list[Path | None]] | None = None
    for layout in LAYOUTS:
        found = [find_file(folder, names) for names in layout.expression]
        n_found = sum(path is not None for path in found)
        if n_found == len(found):
            best = (n_found, layout, found)
            break
        if best is None or n_found > best[0]:
            best = (n_found, layout, found)

    assert best is not None
    _, layout, expression = best
    missing = [
        names[0]
        for names, path in zip(layout.expression, expression, strict=True)
        if path is None
    ] + missing
    if missing:
        return None, missing
    return _Inputs(folder, layout, list(expression), list(survival)), []


def load_tcga(
    data_dir: Path,
    *,
    target: str = DEFAULT_TARGET,
    landmark_days: int = DEFAULT_LANDMARK_DAYS,
    use_preprocessed: bool = False,
    target_column: str = DEFAULT_TARGET_COLUMN,
    name: str = "tcga",
) -> Dataset:
    """Load TCGA LUAD + LUSC primary tumours with a progression label.

    Parameters
    ----------
    data_dir : Path
        Root data directory; the files are read from ``data_dir / "tcga"``.
    target : {"landmark", "pfi"}
        ``"landmark"``: progressed within ``landmark_days`` (PFI = 1 and
        PFI.time <= landmark_days) versus known progression-free beyond it
        (PFI.time > landmark_days); patients censored earlier are dropped.
        ``"pfi"``: the PFI event flag, whatever the follow-up time.
    landmark_days : int
        Landmark in days, used only by ``target="landmark"``.
    use_preprocessed : bool
        When true and ``tcga/preprocessed.csv`` exists, return that table with
        ``target_column`` as the label and ignore ``target``.
    target_column : str
        Label column of ``preprocessed.csv``.
    name : str
        Name of the returned dataset.

    Returns
    -------
    Dataset
        One row per patient (sample barcodes as the index), one column per gene.
        ``provenance["dropped"]`` counts the samples left out, by reason.

    Raises
    ------
    ConfigurationError
        When ``target`` or ``landmark_days`` is invalid.
    DatasetError
        When files are missing, malformed, or share no sample ids.
    """
    if target not in TARGETS:
        raise ConfigurationError(
            f"TCGA target {target!r} is not one of {list(TARGETS)}."
        )
    if isinstance(landmark_days, bool) or not isinstance(landmark_days, int):
        raise ConfigurationError(
            f"landmark_days must be an int number of days, not {landmark_days!r}."
        )
    if landmark_days <= 0:
        raise ConfigurationError(
            f"landmark_days must be a positive number of days, not {landmark_days}."
        )

    data_dir = Path(data_dir)
    folder = data_dir / FOLDER
    if use_preprocessed:
        table = find_file(folder, (PREPROCESSED_FILE,))
        if table is not None:
            provenance = {
                "source": f"{table} (a table prepared outside the harness)",
                "citation": CITATION,
                "licence": LICENCE,
                "label_definition": f"column {target_column!r} of {table.name}",
            }
            return load_preprocessed(name, table, data_dir, target_column, provenance)

    inputs, missing = _find_inputs(folder)
    if inputs is None:
        raise missing_files_error(name, folder, missing, HOW_TO_GET)

    expression = _read_expression(inputs.expression, data_dir)
    kept, dropped = _select_primary_samples(expression.columns)
    endpoints = _read_survival(inputs.survival, target)
    matched = _match_survival(expression.columns, kept, endpoints, inputs, dropped)
    labels, label_text = _make_labels(matched, target, landmark_days, dropped)

    positions = labels.index.to_numpy()
    X = pd.DataFrame(
        np.ascontiguousarray(expression.values[:, positions].T),
        index=[expression.columns[i] for i in positions],
        columns=expression.rows,
    )
    provenance = {
        "source": f"UCSC Xena, {inputs.layout.label} ({inputs.layout.source})",
        "accession": inputs.names(inputs.expression + inputs.survival),
        "citation": CITATION,
        "licence": LICENCE,
        "label_definition": label_text,
        "dropped": format_counts(dropped),
    }
    logger.info(
        "%s: %d patients x %d genes kept; samples dropped: %s",
        name,
        X.shape[0],
        X.shape[1],
        provenance["dropped"],
    )
    return Dataset.from_frame(
        name, X, labels.to_numpy(dtype=object), provenance=provenance
    )


# Expression matrices


def _read_expression(paths: list[Path], data_dir: Path) -> LabelledMatrix:
    """Read, deduplicate and merge expression matrices on their shared genes."""
    matrices = []
    for path in paths:
        matrix = load_cached(path, data_dir, "xena-matrix-v1", _parse_xena_matrix)
        matrices.append(drop_duplicate_rows(matrix, str(path), "gene id"))
    if len(matrices) == 1:
        return matrices[0]

    shared = set(matrices[0].rows)
    for matrix in matrices[1:]:
        shared &= set(matrix.rows)
    genes = [gene for gene in matrices[0].rows if gene in shared]
    if not genes:
        raise DatasetError(
            f"{', '.join(map(str, paths))}: the expression files share no gene ids. "
            "Use files from the same Xena hub and dataset type."
        )
    n_unshared = sum(len(matrix.rows) - len(genes) for matrix in matrices)
    if n_unshared:
        logger.info(
            "kept the %d genes present in every expression file; %d rows of genes "
            "present in only some files were dropped",
            len(genes),
            n_unshared,
        )

    blocks = []
    for matrix in matrices:
        position = {gene: i for i, gene in enumerate(matrix.rows)}
        blocks.append(matrix.values[[position[gene] for gene in genes]])
    return LabelledMatrix(
        values=np.hstack(blocks),
        rows=genes,
        columns=[sample for matrix in matrices for sample in matrix.columns],
    )


def _parse_xena_matrix(path: Path) -> LabelledMatrix:
    """Parse a tab-separated Xena genes x samples matrix.

    Sample barcodes are the header row and gene ids the first column.
    """
    lines = read_first_lines(path, 6)
    header = lines[0].split("\t") if lines else []
    first_cells = [line.split("\t", 1)[0] for line in lines[1:]]

    samples = header[1:]
    if not samples:
        raise DatasetError(
            f"{path}: the header row has no sample columns. Expected a "
            "tab-separated genes x samples matrix from UCSC Xena."
        )
    non_barcodes = [cell for cell in samples if not BARCODE.match(cell)]
    if len(non_barcodes) == len(samples):
        if any(BARCODE.match(cell.strip()) for cell in first_cells):
            raise DatasetError(
                f"{path}: the first column contains sample barcodes (such as "
                f"{first_cells[0].strip()!r}) and the header row does not, so the "
                "file is samples x genes. Xena expression matrices are genes x "
                "samples, so transpose the table or download the original file."
            )
        raise DatasetError(
            f"{path}: the header row contains no TCGA sample barcodes (it starts "
            f"{header[:3]}). Expected a tab-separated genes x samples matrix from "
            "UCSC Xena with barcodes such as 'TCGA-05-4244-01' in the header row."
        )
    if non_barcodes:
        shown = ", ".join(repr(cell) for cell in non_barcodes[:MAX_EXAMPLES])
        raise DatasetError(
            f"{path}: {len(non_barcodes)} header cell(s) are not TCGA sample "
            f"barcodes ({shown}). Every column after the first must be a sample."
        )
    repeated = sorted(cell for cell, n in Counter(samples).items() if n > 1)
    if repeated:
        raise DatasetError(
            f"{path}: sample column(s) {repeated[:MAX_EXAMPLES]} appear more than "
            "once in the header row. Download the original file again."
        )

    frame = read_csv(
        path,
        sep="\t",
        index_col=0,
        dtype={header[0]: str},
        keep_default_na=False,
        na_values={sample: MISSING_MARKERS for sample in samples},
        low_memory=False,
    )
    if frame.empty:
        raise DatasetError(f"{path}: the matrix has no gene rows.")
    values = numeric_values(frame, str(path), "gene", "sample")
    return LabelledMatrix(
        values=values,
        rows=[str(gene) for gene in frame.index],
        columns=[str(sample) for sample in frame.columns],
    )


# Sample selection


def _select_primary_samples(samples: list[str]) -> tuple[list[int], dict[str, int]]:
    """Keep one primary tumour sample per patient and count the others by reason.

    Among a patient's primary tumour samples (barcode characters 14-15 equal to
    "01") the lowest vial letter wins (a 15-character id counts as vial A), then
    the lexicographically smallest barcode, then the earliest column. Returns
    the kept column positions, in column order.
    """
    dropped = {
        "normal tissue (sample types 10-19)": 0,
        "tumour other than primary (sample types 02-09)": 0,
        "other sample types (20-99)": 0,
        "further primary tumour samples of a patient": 0,
    }
    candidates: dict[str, tuple[str, str, int]] = {}
    for position, sample in enumerate(samples):
        match = BARCODE.match(sample)
        assert match is not None, sample  # checked when the file was parsed
        sample_type, vial = match.group(1), match.group(2) or "A"
        if sample_type != PRIMARY_TUMOUR:
            if "10" <= sample_type <= "19":
                dropped["normal tissue (sample types 10-19)"] += 1
            elif sample_type < "10":
                dropped["tumour other than primary (sample types 02-09)"] += 1
            else:
                dropped["other sample types (20-99)"] += 1
            continue

        patient = sample[:PATIENT_LENGTH]
        key = (vial, sample, position)
        if patient in candidates:
            dropped["further primary tumour samples of a patient"] += 1
            candidates[patient] = min(candidates[patient], key)
        else:
            candidates[patient] = key

    kept = sorted(position for _, _, position in candidates.values())
    return kept, dropped


# Survival endpoints


def _read_survival(paths: list[Path], target: str) -> pd.DataFrame:
    """Read the survival files into one table indexed by 15-character sample id.

    Columns: ``PFI`` (0 or 1), ``PFI.time`` (days) when the landmark target
    needs it, and ``redacted`` (bool).
    """
    endpoint_columns = ["PFI", "PFI.time"] if target == "landmark" else ["PFI"]
    frames = []
    for path in paths:
        frame = read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        required = ["sample", *endpoint_columns]
        absent = [column for column in required if column not in frame.columns]
        if absent:
            raise DatasetError(
                f"{path}: no column(s) {absent}, which the {target!r} target needs. "
                f"Its columns are {list(frame.columns)}. The legacy TCGA hub files "
                "survival/LUAD_survival.txt and survival/LUSC_survival.txt have PFI "
                "and PFI.time, but the GDC hub file TCGA-LUAD.survival.tsv has OS "
                "only and cannot be used."
            )
        table = pd.DataFrame({"sample": frame["sample"].str.strip()})
        for column in endpoint_columns:
            table[column] = _endpoint_numbers(frame, column, path)
        # NOTE: the marker "Redacted" is assumed from TCGA-CDR, since no real
        # survival file with a redacted row was available to check it.
        redaction = frame.get("Redaction", pd.Series("", index=frame.index))
        table["redacted"] = redaction.str.strip().str.lower() == "redacted"
        frames.append(table)

    survival = pd.concat(frames, ignore_index=True)
    survival["key"] = survival["sample"].str[:SAMPLE_LENGTH]
    survival = survival.drop_duplicates("key", keep="first").set_index("key")

    events = survival["PFI"].dropna()
    invalid = events[~events.isin([0.0, 1.0])]
    if len(invalid):
        raise DatasetError(
            f"{len(invalid)} PFI value(s) in the survival files are not 0 or 1 "
            f"(sample {invalid.index[0]!r}: {invalid.iloc[0]!r}). PFI is the event "
            "flag of the progression-free interval."
        )
    return survival


def _endpoint_numbers(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    text = frame[column].str.strip()
    missing = text.isin(MISSING_MARKERS)
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = numbers.isna() & ~missing
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise DatasetError(
            f"{path}: {int(bad.sum())} value(s) in column {column!r} are not "
            f"numbers (sample {frame['sample'].iloc[first]!r}: "
            f"{frame[column].iloc[first]!r})."
        )
    return numbers.astype(np.float64)


def _match_survival(
    samples: list[str],
    kept: list[int],
    survival: pd.DataFrame,
    inputs: _Inputs,
    dropped: dict[str, int],
) -> pd.DataFrame:
    """Return the survival rows of the kept samples, indexed by column position.

    Both 15-character (legacy) and 16-character (GDC) barcodes are matched on
    their first 15 characters.
    """
    keys = pd.Index([samples[i][:SAMPLE_LENGTH] for i in kept])
    found = keys.isin(survival.index)
    n_unmatched = int((~found).sum())
    if not found.any():
        raise DatasetError(
            f"none of the {len(kept)} primary tumour samples in "
            f"{inputs.names(inputs.expression)} has a row in "
            f"{inputs.names(inputs.survival)} (expression ids such as "
            f"{list(keys[:MAX_EXAMPLES])}, survival ids such as "
            f"{list(survival['sample'][:MAX_EXAMPLES])}). Use the survival files of "
            "the same cohorts as the expression files."
        )
    if n_unmatched:
        examples = list(keys[~found][:MAX_EXAMPLES])
        logger.info(
            "%d primary tumour samples have no survival row and are dropped, "
            "for example %s",
            n_unmatched,
            examples,
        )
    dropped["no row in the survival files"] = n_unmatched

    positions = [position for position, ok in zip(kept, found, strict=True) if ok]
    matched = survival.loc[keys[found]].copy()
    matched.index = pd.Index(positions, name="position")
    return matched


# Labels


def _make_labels(
    matched: pd.DataFrame, target: str, landmark_days: int, dropped: dict[str, int]
) -> tuple[pd.Series, str]:
    """Return one label per kept column position and the label definition."""
    redacted = matched["redacted"].to_numpy()
    dropped["redacted in the survival file"] = int(redacted.sum())
    matched = matched[~redacted]

    event = matched["PFI"]
    if target == "pfi":
        unknown = event.isna()
        dropped["missing PFI"] = int(unknown.sum())
        event = event[~unknown]
        labels = event.map({1.0: "PFI event", 0.0: "no PFI event"})
        definition = (
            "PFI event flag from the TCGA-CDR survival table: 'PFI event' when a "
            "progression-free interval event was recorded, else 'no PFI event'."
        )
        return labels, definition

    time = matched["PFI.time"]
    unknown = event.isna() | time.isna()
    dropped["missing PFI or PFI.time"] = int(unknown.sum())
    event, time = event[~unknown], time[~unknown]

    progressed = (event == 1.0) & (time <= landmark_days)
    free = time > landmark_days
    censored = ~(progressed | free)
    dropped[f"censored before day {landmark_days}"] = int(censored.sum())

    progressed_label = f"progressed within {landmark_days} days"
    free_label = f"progression-free beyond {landmark_days} days"
    labels = pd.Series(free_label, index=event.index, dtype=object)
    labels[progressed] = progressed_label
    labels = labels[~censored]
    definition = (
        f"{landmark_days}-day landmark on the TCGA-CDR progression-free interval: "
        f"{progressed_label!r} when PFI = 1 and PFI.time <= {landmark_days}, "
        f"{free_label!r} when PFI.time > {landmark_days}. Patients censored "
        "earlier are dropped."
    )
    return labels, definition


# Registration


def _landmark_days_from_env() -> int:
    text = os.environ.get(LANDMARK_DAYS_ENV, "").strip()
    if not text:
        return DEFAULT_LANDMARK_DAYS
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days <= 0:
        raise ConfigurationError(
            f"{LANDMARK_DAYS_ENV}={text!r} is not a positive whole number of days."
        )
    return days


def _load_registered(
    data_dir: Path, *, name: str, target: str, preprocessed: bool
) -> Dataset:
    days = _landmark_days_from_env()
    return load_tcga(
        data_dir,
        target=target,
        landmark_days=days,
        use_preprocessed=preprocessed,
        name=name,
    )


@hookimpl
def bench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="tcga",
            loader=functools.partial(
                _load_registered, name="tcga", target=DEFAULT_TARGET, preprocessed=True
            ),
            description=(
                "TCGA lung adenocarcinoma + squamous cell carcinoma gene expression "
                "(UCSC Xena), one primary tumour per patient. Label: progressed "
                "within 365 days vs progression-free beyond, a landmark on PFI "
                f"({LANDMARK_DAYS_ENV} sets another day). Reads tcga/preprocessed.csv "
                "with its 'target' column instead when that file exists."
            ),
            suites=(PAPER_SUITE,),
            missing_files=functools.partial(missing_tcga_files, use_preprocessed=True),
        ),
        DatasetSpec(
            name="tcga-landmark",
            loader=functools.partial(
                _load_registered,
                name="tcga-landmark",
                target="landmark",
                preprocessed=False,
            ),
            description=(
                "TCGA LUAD + LUSC from the Xena files. Label: progressed within 365 "
                f"days vs progression-free beyond ({LANDMARK_DAYS_ENV} sets another "
                "day). Patients censored earlier are dropped."
            ),
            missing_files=missing_tcga_files,
        ),
        DatasetSpec(
            name="tcga-pfi",
            loader=functools.partial(
                _load_registered, name="tcga-pfi", target="pfi", preprocessed=False
            ),
            description=(
                "TCGA LUAD + LUSC from the Xena files. Label: the PFI event flag "
                "(a progression event recorded at any time vs none)."
            ),
            missing_files=missing_tcga_files,
        ),
    ]
