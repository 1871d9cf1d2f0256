"""ADNI blood gene expression with the clinical diagnosis CN / MCI / Dementia.

Registers ``adni``, read from ``<data_dir>/adni``: the LONI file
``ADNI_Gene_Expression_Profile.csv`` (probes x samples, Affymetrix HG-U219)
joined with the diagnosis at the sample's visit from ``ADNIMERGE.csv``. ADNI2
samples carry raw visit codes (v02, v03, ...), which
``DXSUM_PDXCONV_ADNIALL.csv`` maps to the standard visit codes of ADNIMERGE.
``adni/preprocessed.csv`` replaces all three files when it exists. See
``datasets/adni/README.md``.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmark.components import Dataset, DatasetSpec
from benchmark.errors import DatasetError
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

__all__ = ["bench_register_datasets", "load_adni", "missing_adni_files"]

logger = logging.getLogger(__name__)

FOLDER = "adni"
EXPRESSION_FILE = "ADNI_Gene_Expression_Profile.csv"
ADNIMERGE_STEM = "ADNIMERGE"
DXSUM_STEM = "DXSUM_PDXCONV_ADNIALL"
LONI_URL = "https://ida.loni.usc.edu"

# Diagnosis spellings in ADNIMERGE's DX column across releases. A conversion
# such as "MCI to Dementia" maps to the diagnosis after "to".
DIAGNOSES = {
    "cn": "CN",
    "nl": "CN",
    "mci": "MCI",
    "dementia": "Dementia",
    "ad": "Dementia",
}

# Metadata rows above the probe table, found by the name in their first cell.
PHASE_ROW, VISIT_ROW, SUBJECT_ROW = "Phase", "Visit", "SubjectID"
PROBE_HEADER = "ProbeSet"
MAX_METADATA_LINES = 30
# Probe id, LocusLink and Symbol precede the sample columns.
FIRST_SAMPLE_COLUMN = 3

RAW_VISIT_CODE = re.compile(r"^v\d+$")
SCREENING_VISITS = ("sc", "scmri")
PTID = re.compile(r"^\d{3}_S_(\d{4})$")

HOW_TO_GET = (
    f"LONI IDA ({LONI_URL}) distributes the ADNI files after an approved ADNI data "
    f"use application: {EXPRESSION_FILE} (genetic data, gene expression), "
    f"{ADNIMERGE_STEM}.csv and {DXSUM_STEM}.csv (study data, diagnosis). Files "
    "saved with a date suffix (such as ADNIMERGE_12Oct2023.csv) are accepted."
)
PROVENANCE = {
    "source": "Alzheimer's Disease Neuroimaging Initiative (ADNI), LONI IDA "
    f"({LONI_URL})",
    "citation": "ADNI (adni.loni.usc.edu); publications must acknowledge ADNI as "
    "its data use agreement requires.",
    "licence": "ADNI Data Use Agreement; the files may not be redistributed.",
}


@dataclass(frozen=True)
class _Inputs:
    expression: Path
    adnimerge: Path
    dxsum: Path


@dataclass(frozen=True)
class _Labels:
    """Diagnoses of the expression samples that have one."""

    positions: list[int]  # column positions in the expression matrix
    labels: list[str]
    dropped: dict[str, int]  # samples without a diagnosis, by reason
    n_screening: int  # screening-visit samples given the baseline diagnosis


def missing_adni_files(data_dir: Path, *, use_preprocessed: bool = True) -> list[str]:
    """Return the absent input files, as names inside ``data_dir / "adni"``."""
    folder = Path(data_dir) / FOLDER
    if use_preprocessed and find_file(folder, (PREPROCESSED_FILE,)):
        return []
    missing = []
    if find_file(folder, (EXPRESSION_FILE,)) is None:
        missing.append(EXPRESSION_FILE)
    for stem in (ADNIMERGE_STEM, DXSUM_STEM):
        if not _dated_candidates(folder, stem):
            missing.append(f"{stem}.csv")
    return missing


def _dated_candidates(folder: Path, stem: str) -> list[Path]:
    exact = folder / f"{stem}.csv"
    if exact.is_file():
        return [exact]
    return sorted(path for path in folder.glob(f"{stem}_*.csv") if path.is_file())


def _find_table(folder: Path, stem: str) -> Path:
    candidates = _dated_candidates(folder, stem)
    if len(candidates) > 1:
        names = ", ".join(path.name for path in candidates)
        raise DatasetError(
            f"{folder}: several {stem} files ({names}). Keep one, or name the one "
            f"to use {stem}.csv."
        )
    return candidates[0]


def load_adni(
    data_dir: Path,
    *,
    use_preprocessed: bool = True,
    target_column: str = DEFAULT_TARGET_COLUMN,
    name: str = "adni",
) -> Dataset:
    """Load ADNI blood expression profiles labelled CN, MCI or Dementia.

    Parameters
    ----------
    data_dir : Path
        Root data directory; the files are read from ``data_dir / "adni"``.
    use_preprocessed : bool
        When true and ``adni/preprocessed.csv`` exists, return that table with
        ``target_column`` as the label.
    target_column : str
        Label column of ``preprocessed.csv``.
    name : str
        Name of the returned dataset.

    Returns
    -------
    Dataset
        One row per expression sample (index ``PTID/visit``), one column per
        probe named ``ProbeSet_Symbol``. ``provenance["dropped"]`` counts the
        samples without a diagnosis, by reason.

    Raises
    ------
    DatasetError
        When files are missing or malformed, or no sample has a diagnosis.
    """
    data_dir = Path(data_dir)
    folder = data_dir / FOLDER
    if use_preprocessed:
        table = find_file(folder, (PREPROCESSED_FILE,))
        if table is not None:
            provenance = {
                **PROVENANCE,
                "source": f"{table} (a table prepared outside the harness)",
                "label_definition": f"column {target_column!r} of {table.name}",
            }
            return load_preprocessed(name, table, data_dir, target_column, provenance)

    missing = missing_adni_files(data_dir, use_preprocessed=False)
    if missing:
        raise missing_files_error(name, folder, missing, HOW_TO_GET)
    inputs = _Inputs(
        expression=find_file(folder, (EXPRESSION_FILE,)),
        adnimerge=_find_table(folder, ADNIMERGE_STEM),
        dxsum=_find_table(folder, DXSUM_STEM),
    )

    matrix = load_cached(inputs.expression, data_dir, "adni-expression-v1", _parse)
    matrix = drop_duplicate_rows(matrix, str(inputs.expression), "probe")
    diagnoses = _read_diagnoses(inputs.adnimerge)
    visit_codes = _read_visit_codes(inputs.dxsum)
    found = _label_samples(matrix, diagnoses, visit_codes, inputs)

    X = pd.DataFrame(
        matrix.values[:, found.positions].T,
        index=[matrix.columns[i] for i in found.positions],
        columns=matrix.rows,
    )
    provenance = {
        **PROVENANCE,
        "accession": f"{inputs.expression.name}, {inputs.adnimerge.name}, "
        f"{inputs.dxsum.name}",
        "label_definition": "ADNIMERGE DX at the visit of the blood sample "
        "(CN, MCI, Dementia). "
        "ADNI2 raw visit codes are mapped to VISCODE2 through DXSUM_PDXCONV_ADNIALL.",
        "dropped": format_counts(found.dropped),
        "screening visits labelled with the baseline DX": str(found.n_screening),
    }
    logger.info(
        "%s: %d samples x %d probes kept; samples dropped: %s",
        name,
        X.shape[0],
        X.shape[1],
        provenance["dropped"],
    )
    return Dataset.from_frame(name, X, found.labels, provenance=provenance)


# Expression profile


def _parse(path: Path) -> LabelledMatrix:
    """Parse the LONI expression profile into probes x samples.

    The file has metadata rows, a ProbeSet header row, then probe rows that end
    with an annotation column, which is not a sample.
    """
    head = list(csv.reader(read_first_lines(path, MAX_METADATA_LINES)))

    header_line = next(
        (i for i, row in enumerate(head) if row and row[0].strip() == PROBE_HEADER),
        None,
    )
    if header_line is None:
        raise DatasetError(
            f"{path}: no row starting with {PROBE_HEADER!r} in the first "
            f"{MAX_METADATA_LINES} lines. Expected the LONI layout: metadata rows "
            "(Phase, Visit, SubjectID, ...), then a 'ProbeSet,LocusLink,Symbol' "
            "header row, then one row per probe with samples as columns."
        )
    metadata = {row[0].strip(): row for row in head[:header_line] if row}
    absent = [key for key in (PHASE_ROW, VISIT_ROW, SUBJECT_ROW) if key not in metadata]
    if absent:
        raise DatasetError(
            f"{path}: metadata row(s) {absent} are missing above the "
            f"{PROBE_HEADER!r} row. Rows found: {list(metadata)}."
        )

    subjects = metadata[SUBJECT_ROW]
    sample_columns = [
        j for j in range(FIRST_SAMPLE_COLUMN, len(subjects)) if subjects[j].strip()
    ]
    if not sample_columns:
        raise DatasetError(f"{path}: the {SUBJECT_ROW!r} row names no samples.")
    subject_ids = [subjects[j].strip() for j in sample_columns]
    visits = [_cell(metadata[VISIT_ROW], j) for j in sample_columns]
    phases = [_cell(metadata[PHASE_ROW], j) for j in sample_columns]

    frame = read_csv(
        path,
        header=None,
        skiprows=header_line + 1,
        usecols=[0, 2, *sample_columns],
        dtype={0: str, 2: str},
        keep_default_na=False,
        na_values={j: MISSING_MARKERS for j in sample_columns},
        low_memory=False,
    )
    if frame.empty:
        raise DatasetError(f"{path}: no probe rows below the {PROBE_HEADER!r} row.")
    probes = frame.pop(0).str.strip()
    symbols = frame.pop(2).str.strip()
    # The feature name is ProbeSet_Symbol, or the probe id alone without a symbol.
    features = [
        f"{probe}_{symbol}" if symbol else probe
        for probe, symbol in zip(probes, symbols, strict=True)
    ]
    frame.index = pd.Index(features)
    frame.columns = [f"{s}/{v}" for s, v in zip(subject_ids, visits, strict=True)]
    values = numeric_values(frame, str(path), "probe", "sample")
    return LabelledMatrix(
        values=values,
        rows=features,
        columns=list(frame.columns),
        extra={"subject": subject_ids, "visit": visits, "phase": phases},
    )


def _cell(row: list[str], column: int) -> str:
    return row[column].strip() if column < len(row) else ""


# Diagnosis tables


def _read_columns(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Read the required columns of a LONI CSV file as stripped strings."""
    columns = read_csv(path, nrows=0).columns
    absent = [column for column in required if column not in columns]
    if absent:
        shown = ", ".join(list(columns)[:12])
        raise DatasetError(
            f"{path}: no column(s) {absent}. Its first columns are {shown}. "
            f"Download {path.name} from LONI again."
        )
    frame = read_csv(path, usecols=list(required), dtype=str, keep_default_na=False)
    return frame.apply(lambda column: column.str.strip())


def _read_diagnoses(path: Path) -> dict[tuple[str, str], str | None]:
    """Map (PTID, visit code) to CN, MCI, Dementia, or None when DX is empty."""
    frame = _read_columns(path, ("PTID", "VISCODE", "DX"))
    unknown = sorted({dx for dx in frame["DX"] if dx and _diagnosis(dx) is None})
    if unknown:
        raise DatasetError(
            f"{path}: DX value(s) {unknown[:MAX_EXAMPLES]} are not a known diagnosis. "
            f"Known: {sorted(DIAGNOSES)} (any case), or 'X to Y' for a conversion."
        )
    diagnoses: dict[tuple[str, str], str | None] = {}
    for ptid, visit, dx in zip(
        frame["PTID"], frame["VISCODE"], frame["DX"], strict=True
    ):
        diagnoses.setdefault((ptid, visit.lower()), _diagnosis(dx) if dx else None)
    return diagnoses


def _diagnosis(text: str) -> str | None:
    final = re.split(r"\s+to\s+", text.strip(), flags=re.IGNORECASE)[-1]
    return DIAGNOSES.get(final.lower())


def _read_visit_codes(path: Path) -> dict[tuple[str, int, str], str]:
    """Map (phase, RID, raw visit code) to the standard visit code VISCODE2."""
    frame = _read_columns(path, ("Phase", "RID", "VISCODE", "VISCODE2"))
    codes: dict[tuple[str, int, str], str] = {}
    for phase, rid, raw, standard in zip(
        frame["Phase"], frame["RID"], frame["VISCODE"], frame["VISCODE2"], strict=True
    ):
        if rid.isdigit() and standard:
            codes.setdefault((phase.upper(), int(rid), raw.lower()), standard.lower())
    return codes


def _label_samples(
    matrix: LabelledMatrix,
    diagnoses: dict[tuple[str, str], str | None],
    visit_codes: dict[tuple[str, int, str], str],
    inputs: _Inputs,
) -> _Labels:
    """Find the diagnosis at each sample's visit and count the samples without one.

    ADNIGO visit codes (bl, m03, ...) match ADNIMERGE's VISCODE directly. Raw
    ADNI2 codes (v02, v03, ...) are first mapped to VISCODE2 by phase and RID.
    A screening visit (sc, scmri) without its own ADNIMERGE row takes the
    diagnosis of the subject's baseline row.
    """
    dropped = {
        "SubjectID is not a PTID such as 009_S_2381": 0,
        f"raw visit code not in {inputs.dxsum.name}": 0,
        f"no row for subject and visit in {inputs.adnimerge.name}": 0,
        "empty DX at the visit": 0,
    }
    unmatched: list[str] = []
    n_screening = 0
    positions, labels = [], []
    extra = matrix.extra
    for position, (subject, visit, phase) in enumerate(
        zip(extra["subject"], extra["visit"], extra["phase"], strict=True)
    ):
        ptid = PTID.match(subject)
        if ptid is None:
            dropped["SubjectID is not a PTID such as 009_S_2381"] += 1
            unmatched.append(matrix.columns[position])
            continue
        code = visit.lower()
        if RAW_VISIT_CODE.match(code):
            mapped = visit_codes.get((phase.upper(), int(ptid.group(1)), code))
            if mapped is None:
                dropped[f"raw visit code not in {inputs.dxsum.name}"] += 1
                unmatched.append(matrix.columns[position])
                continue
            code = mapped
        key = (subject, code)
        # NOTE: tested on files written by the tests only. Whether real ADNI2
        # samples map to screening visits, and so use this fallback, is unchecked.
        if key not in diagnoses and code in SCREENING_VISITS:
            if (subject, "bl") in diagnoses:
                key = (subject, "bl")
                n_screening += 1
        if key not in diagnoses:
            dropped[f"no row for subject and visit in {inputs.adnimerge.name}"] += 1
            unmatched.append(matrix.columns[position])
            continue
        if diagnoses[key] is None:
            dropped["empty DX at the visit"] += 1
            continue
        positions.append(position)
        labels.append(diagnoses[key])

    if not positions:
        raise DatasetError(
            f"none of the {len(matrix.columns)} samples in {inputs.expression.name} "
            f"has a diagnosis in {inputs.adnimerge.name} ({format_counts(dropped)}; "
            f"samples such as {unmatched[:MAX_EXAMPLES]}). Check that the files "
            "come from the same ADNI download and that DXSUM covers the ADNI2 visits."
        )
    if unmatched:
        logger.info(
            "%d expression samples match no diagnosis, for example %s",
            len(unmatched),
            unmatched[:MAX_EXAMPLES],
        )
    if n_screening:
        logger.info(
            "%d screening-visit samples took the baseline diagnosis", n_screening
        )
    return _Labels(positions, labels, dropped, n_screening)


# Registration


@hookimpl
def bench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="adni",
            loader=functools.partial(load_adni, name="adni"),
            description=(
                "ADNI blood gene expression (Affymetrix HG-U219, ~49,400 probes), "
                "3 classes CN / MCI / Dementia from ADNIMERGE at the sample's visit. "
                "Reads adni/preprocessed.csv with its 'target' column instead when "
                "that file exists."
            ),
            suites=(PAPER_SUITE,),
            missing_files=missing_adni_files,
        ),
    ]
