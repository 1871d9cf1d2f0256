"""Writers of small TCGA (UCSC Xena) and ADNI (LONI) files in their real formats.

The tests of the ``tcga`` and ``adni`` plugins build their inputs with these
functions, because the real files cannot be shipped. Layouts, headers and
separators follow the published files; only the sizes and the values differ.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# TCGA (UCSC Xena)

SURVIVAL_COLUMNS = (
    "sample",
    "_PATIENT",
    "OS",
    "OS.time",
    "DSS",
    "DSS.time",
    "DFI",
    "DFI.time",
    "PFI",
    "PFI.time",
    "Redaction",
)
GENES = ("TP53", "EGFR", "KRAS", "STK11", "KEAP1", "ALK")


def write_text(path: Path, text: str, *, compress: bool = False) -> Path:
    """Write text as UTF-8, gzip-compressed when ``compress`` (whatever the name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def expression_values(n_genes: int, samples: Sequence[str]) -> np.ndarray:
    """Return genes x samples values that identify their cell.

    The value of gene ``g`` in sample ``TCGA-XX-PPPP-TTV`` is
    ``g + PPPP / 1e4 + TT / 1e6 + V / 1e7`` (sample type TT, vial letter V as
    0 for A), so a test can tell from a value which gene and sample it came from.
    """
    values = np.empty((n_genes, len(samples)))
    for j, sample in enumerate(samples):
        participant, sample_type = int(sample[8:12]), int(sample[13:15])
        vial = 0 if len(sample) < 16 else ord(sample[15]) - ord("A")
        for g in range(n_genes):
            values[g, j] = g + participant / 1e4 + sample_type / 1e6 + vial / 1e7
    return values


def write_xena_matrix(
    path: Path,
    samples: Sequence[str],
    *,
    genes: Sequence[str] = GENES,
    id_column: str = "sample",
    values: np.ndarray | None = None,
    compress: bool = False,
    cells: dict[tuple[int, int], str] | None = None,
) -> np.ndarray:
    """Write a tab-separated Xena genes x samples matrix.

    Values have 7 decimals, where the published files have 4, so that each
    value still identifies its cell.

    ``id_column`` is ``sample`` on the legacy TCGA hub and ``Ensembl_ID`` on the
    GDC hub. ``cells`` replaces the text of single cells, keyed by (gene row,
    sample column), to write missing or non-numeric values. Returns the values.
    """
    if values is None:
        values = expression_values(len(genes), samples)
    lines = ["\t".join([id_column, *samples])]
    for g, gene in enumerate(genes):
        row = [f"{values[g, j]:.7f}" for j in range(len(samples))]
        for (gene_row, column), text in (cells or {}).items():
            if gene_row == g:
                row[column] = text
        lines.append("\t".join([gene, *row]))
    write_text(path, "\n".join(lines) + "\n", compress=compress)
    return values


@dataclass(frozen=True)
class Survival:
    """One row of a legacy Xena ``*_survival.txt`` file (PFI endpoint only)."""

    sample: str
    pfi: str
    pfi_time: str
    redaction: str = ""


def write_survival(
    path: Path,
    rows: Sequence[Survival],
    *,
    columns: Sequence[str] = SURVIVAL_COLUMNS,
    compress: bool = False,
) -> None:
    """Write a legacy TCGA hub survival file with the given PFI values.

    OS, DSS and DFI get filler values, since the loader does not read them.
    Dropping names from ``columns`` writes a file without those columns.
    """
    lines = ["\t".join(columns)]
    for row in rows:
        record = {
            "sample": row.sample,
            "_PATIENT": row.sample[:12],
            "OS": "0",
            "OS.time": "1000",
            "DSS": "0",
            "DSS.time": "1000",
            "DFI": "",
            "DFI.time": "",
            "PFI": row.pfi,
            "PFI.time": row.pfi_time,
            "Redaction": row.redaction,
        }
        lines.append("\t".join(record.get(column, "") for column in columns))
    write_text(path, "\n".join(lines) + "\n", compress=compress)


# The legacy LUAD + LUSC scenario. Each sample's fate under the one-year
# landmark ("progressed", "free", "censored") and the PFI flag is in the comment.
LUAD_SAMPLES = (
    "TCGA-05-0001-01",  # PFI 1 at day 100: progressed / event
    "TCGA-05-0001-11",  # normal tissue
    "TCGA-05-0002-01",  # PFI 0 at day 800: free / no event
    "TCGA-05-0003-01",  # PFI 0 at day 200: censored / no event
    "TCGA-05-0004-02",  # recurrent tumour
    "TCGA-05-0005-01",  # PFI 1 at day 500: free / event
    "TCGA-05-0006-01",  # no survival row
)
LUSC_SAMPLES = (
    "TCGA-18-0007-01",  # PFI 1 at day 30: progressed / event
    "TCGA-18-0008-01",  # PFI 0 at day 1000: free / no event
    "TCGA-18-0009-01",  # PFI 1 at day 365: progressed / event
    "TCGA-18-0010-01",  # PFI 0 at day 366: free / no event
    "TCGA-18-0011-01",  # redacted
    "TCGA-18-0012-01",  # PFI missing
    "TCGA-18-0013-11",  # normal tissue
    "TCGA-18-0014-06",  # metastatic tumour
)
LUAD_SURVIVAL = (
    Survival("TCGA-05-0001-01", "1", "100"),
    Survival("TCGA-05-0001-11", "1", "100"),
    Survival("TCGA-05-0002-01", "0", "800"),
    Survival("TCGA-05-0003-01", "0", "200"),
    Survival("TCGA-05-0004-02", "1", "40"),
    Survival("TCGA-05-0005-01", "1", "500"),
)
LUSC_SURVIVAL = (
    Survival("TCGA-18-0007-01", "1", "30"),
    Survival("TCGA-18-0008-01", "0", "1000"),
    Survival("TCGA-18-0009-01", "1", "365"),
    Survival("TCGA-18-0010-01", "0", "366"),
    Survival("TCGA-18-0011-01", "1", "20", "Redacted"),
    Survival("TCGA-18-0012-01", "", ""),
    Survival("TCGA-18-0013-11", "0", "900"),
    Survival("TCGA-18-0014-06", "1", "10"),
)
LANDMARK_PROGRESSED = ("TCGA-05-0001-01", "TCGA-18-0007-01", "TCGA-18-0009-01")
LANDMARK_FREE = (
    "TCGA-05-0002-01",
    "TCGA-05-0005-01",
    "TCGA-18-0008-01",
    "TCGA-18-0010-01",
)
PFI_EVENT = ("TCGA-05-0001-01", "TCGA-05-0005-01", "TCGA-18-0007-01", "TCGA-18-0009-01")
PFI_NO_EVENT = (
    "TCGA-05-0002-01",
    "TCGA-05-0003-01",
    "TCGA-18-0008-01",
    "TCGA-18-0010-01",
)


def write_survival_files(tcga: Path, *, compress: bool = False) -> None:
    """Write survival/LUAD_survival.txt and survival/LUSC_survival.txt."""
    write_survival(
        tcga / "survival/LUAD_survival.txt", LUAD_SURVIVAL, compress=compress
    )
    write_survival(
        tcga / "survival/LUSC_survival.txt", LUSC_SURVIVAL, compress=compress
    )


def write_legacy_tcga(
    data_dir: Path, *, luad_name: str = "HiSeqV2", lusc_name: str = "HiSeqV2.gz"
) -> Path:
    """Write the legacy LUAD + LUSC scenario under ``data_dir/tcga``.

    A name ending in ``.gz`` is written gzip-compressed. Returns the tcga folder.
    """
    tcga = data_dir / "tcga"
    write_xena_matrix(
        tcga / "TCGA.LUAD.sampleMap" / luad_name,
        LUAD_SAMPLES,
        compress=luad_name.endswith(".gz"),
    )
    write_xena_matrix(
        tcga / "TCGA.LUSC.sampleMap" / lusc_name,
        LUSC_SAMPLES,
        compress=lusc_name.endswith(".gz"),
    )
    write_survival_files(tcga)
    return tcga


# ADNI (LONI)

ADNI_METADATA_ROWS = (
    "Phase",
    "Visit",
    "SubjectID",
    "260/280",
    "260/230",
    "RIN",
    "Affy Plate",
    "YearofCollection",
)
ADNI_PROBES = (
    ("11715100_at", "8355", "HIST1H3G"),
    ("11715101_s_at", "8355", "HIST1H3G"),
    ("11715104_s_at", "27000", "DNAJC3 || DNAJC2"),
    ("11715989_a_at", "10899", "JTB"),
    ("11716000_at", "10801", "2-Sep"),
    ("11716001_at", "", ""),
)


@dataclass(frozen=True)
class AdniSample:
    """One expression sample column and the fate the tests expect for it."""

    phase: str
    visit: str
    subject: str
    expected: str  # CN, MCI, Dementia, or the reason the sample is dropped


ADNI_SAMPLES = (
    AdniSample("ADNIGO", "m48", "009_S_0751", "CN"),
    AdniSample("ADNIGO", "bl", "011_S_4105", "MCI"),
    AdniSample("ADNI2", "v03", "009_S_2381", "Dementia"),
    AdniSample("ADNI2", "v11", "012_S_4188", "MCI"),
    AdniSample("ADNI2", "v06", "014_S_4577", "no VISCODE2"),
    AdniSample("ADNIGO", "m60", "018_S_0055", "no ADNIMERGE row"),
    AdniSample("ADNI2", "v02", "019_S_4835", "CN"),  # screening, baseline DX
    AdniSample("ADNIGO", "m03", "022_S_4266", "empty DX"),
    AdniSample("ADNI2", "v04", "023_S_4448", "CN"),
    AdniSample("ADNIGO", "m06", "031_S_4021", "Dementia"),
)

# ADNIMERGE rows: (RID, PTID, VISCODE, COLPROT, DX). Older releases spell CN as
# "NL" and write conversions such as "MCI to Dementia".
ADNIMERGE_ROWS = (
    ("751", "009_S_0751", "bl", "ADNI1", "CN"),
    ("751", "009_S_0751", "m48", "ADNIGO", "CN"),
    ("4105", "011_S_4105", "bl", "ADNIGO", "MCI"),
    ("2381", "009_S_2381", "bl", "ADNI2", "MCI to Dementia"),
    ("4188", "012_S_4188", "m12", "ADNI2", "MCI"),
    ("4577", "014_S_4577", "bl", "ADNI2", "CN"),
    ("55", "018_S_0055", "bl", "ADNI1", "MCI"),
    ("4835", "019_S_4835", "bl", "ADNI2", "NL"),
    ("4266", "022_S_4266", "m03", "ADNIGO", ""),
    ("4448", "023_S_4448", "m03", "ADNI2", "CN"),
    ("4021", "031_S_4021", "m06", "ADNIGO", "Dementia"),
)
ADNIMERGE_COLUMNS = (
    "RID",
    "COLPROT",
    "ORIGPROT",
    "PTID",
    "SITE",
    "VISCODE",
    "EXAMDATE",
    "DX_bl",
    "AGE",
    "PTGENDER",
    "DX",
    "update_stamp",
)

# DXSUM rows: (Phase, RID, VISCODE, VISCODE2).
DXSUM_ROWS = (
    ("ADNI2", "2381", "v03", "bl"),
    ("ADNI2", "4188", "v11", "m12"),
    ("ADNI2", "4835", "v02", "sc"),
    ("ADNI2", "4448", "v04", "m03"),
    ("ADNI1", "4577", "v06", "m36"),  # another phase: must not match ADNI2 v06
)
DXSUM_COLUMNS = (
    "Phase",
    "ID",
    "RID",
    "SITEID",
    "VISCODE",
    "VISCODE2",
    "USERDATE",
    "DXCHANGE",
    "DIAGNOSIS",
)


def adni_values(n_probes: int, n_samples: int) -> np.ndarray:
    """Return probes x samples values ``probe + sample / 100 + 2``."""
    probes = np.arange(n_probes)[:, None]
    samples = np.arange(n_samples)[None, :]
    return 2.0 + probes + samples / 100


def write_adni_expression(
    path: Path,
    samples: Sequence[AdniSample] = ADNI_SAMPLES,
    probes: Sequence[tuple[str, str, str]] = ADNI_PROBES,
    *,
    cells: dict[tuple[int, int], str] | None = None,
    metadata_rows: Sequence[str] = ADNI_METADATA_ROWS,
    compress: bool = False,
) -> np.ndarray:
    """Write ``ADNI_Gene_Expression_Profile.csv`` in the LONI layout.

    Eight metadata rows (name, two empty cells, one value per sample, empty
    annotation cell), the ``ProbeSet,LocusLink,Symbol`` row, then one row per
    probe with a trailing annotation text. Returns the probes x samples values.
    """
    values = adni_values(len(probes), len(samples))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    per_sample = {
        "Phase": [s.phase for s in samples],
        "Visit": [s.visit for s in samples],
        "SubjectID": [s.subject for s in samples],
        "260/280": ["2.05"] * len(samples),
        "260/230": ["1.9"] * len(samples),
        "RIN": ["7.2"] * len(samples),
        "Affy Plate": ["5"] * len(samples),
        "YearofCollection": ["2011"] * len(samples),
    }
    for name in metadata_rows:
        writer.writerow([name, "", "", *per_sample[name], ""])
    writer.writerow(["ProbeSet", "LocusLink", "Symbol", *[""] * len(samples), ""])
    for p, (probe, locus, symbol) in enumerate(probes):
        row = [f"{values[p, j]:.3f}" for j in range(len(samples))]
        for (probe_row, column), text in (cells or {}).items():
            if probe_row == p:
                row[column] = text
        annotation = f"[{symbol}] gene annotation, with commas, for {probe}"
        writer.writerow([probe, locus, symbol, *row, annotation])
    write_text(path, buffer.getvalue(), compress=compress)
    return values


def write_adnimerge(
    path: Path,
    rows: Sequence[tuple[str, str, str, str, str]] = ADNIMERGE_ROWS,
    columns: Sequence[str] = ADNIMERGE_COLUMNS,
) -> None:
    """Write ``ADNIMERGE.csv`` with the given (RID, PTID, VISCODE, COLPROT, DX)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    writer.writerow(columns)
    for rid, ptid, viscode, colprot, dx in rows:
        record = {
            "RID": rid,
            "COLPROT": colprot,
            "ORIGPROT": colprot,
            "PTID": ptid,
            "SITE": ptid[:3],
            "VISCODE": viscode,
            "EXAMDATE": "2011-05-02",
            "DX_bl": "CN",
            "AGE": "74.3",
            "PTGENDER": "Female",
            "DX": dx,
            "update_stamp": "2023-10-12 04:51:44.0",
        }
        writer.writerow([record.get(column, "") for column in columns])
    write_text(path, buffer.getvalue())


def write_dxsum(
    path: Path,
    rows: Sequence[tuple[str, str, str, str]] = DXSUM_ROWS,
    columns: Sequence[str] = DXSUM_COLUMNS,
) -> None:
    """Write ``DXSUM_PDXCONV_ADNIALL.csv`` with (Phase, RID, VISCODE, VISCODE2)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(columns)
    for number, (phase, rid, viscode, viscode2) in enumerate(rows, start=1):
        record = {
            "Phase": phase,
            "ID": str(number * 10),
            "RID": rid,
            "SITEID": "7",
            "VISCODE": viscode,
            "VISCODE2": viscode2,
            "USERDATE": "2012-01-05",
            "DXCHANGE": "1",
            "DIAGNOSIS": "",
        }
        writer.writerow([record.get(column, "") for column in columns])
    write_text(path, buffer.getvalue())


def write_adni(data_dir: Path) -> Path:
    """Write the three ADNI files of the standard scenario and return the folder."""
    adni = data_dir / "adni"
    write_adni_expression(adni / "ADNI_Gene_Expression_Profile.csv")
    write_adnimerge(adni / "ADNIMERGE.csv")
    write_dxsum(adni / "DXSUM_PDXCONV_ADNIALL.csv")
    return adni


def write_preprocessed(
    path: Path, *, target_column: str = "target", index: bool = True
) -> None:
    """Write a samples x features CSV with a label column, as pandas writes it."""
    lines = [",".join(([""] if index else []) + ["g1", "g2", "g3", target_column])]
    for i in range(8):
        label = "1" if i < 3 else "0"
        row = [f"{i / 10:.1f}", f"{i * 2}", f"{-i / 4}", label]
        lines.append(",".join(([f"S{i}"] if index else []) + row))
    write_text(path, "\n".join(lines) + "\n")
