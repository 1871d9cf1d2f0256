"""Tests of the TCGA lung dataset plugin on small files in the Xena formats."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import numpy as np
import pluggy
import pytest
from fixtures_clinical import (
    GENES,
    LANDMARK_FREE,
    LANDMARK_PROGRESSED,
    LUAD_SAMPLES,
    LUSC_SAMPLES,
    PFI_EVENT,
    PFI_NO_EVENT,
    Survival,
    expression_values,
    write_legacy_tcga,
    write_preprocessed,
    write_survival,
    write_survival_files,
    write_text,
    write_xena_matrix,
)

from benchmark.errors import BenchWarning, ConfigurationError, DatasetError
from benchmark.hookspecs import PROJECT
from plugins import _tables, tcga
from plugins.tcga import load_tcga, missing_tcga_files

LANDMARK_POSITIVE = "progressed within 365 days"
LANDMARK_NEGATIVE = "progression-free beyond 365 days"


def labels_by_sample(dataset) -> dict[str, str]:
    return {
        sample: dataset.class_names[code]
        for sample, code in zip(dataset.X.index, dataset.y, strict=True)
    }


def specs_by_name() -> dict:
    manager = pluggy.PluginManager(PROJECT)
    from benchmark import hookspecs

    manager.add_hookspecs(hookspecs)
    manager.register(tcga)
    results = manager.hook.bench_register_datasets()
    return {spec.name: spec for specs in results for spec in specs}


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    write_legacy_tcga(tmp_path)
    return tmp_path


# Legacy TCGA hub files


def test_landmark_labels_on_legacy_files(legacy: Path) -> None:
    dataset = load_tcga(legacy)

    labels = labels_by_sample(dataset)
    assert sorted(labels) == sorted(LANDMARK_PROGRESSED + LANDMARK_FREE)
    for sample in LANDMARK_PROGRESSED:
        assert labels[sample] == LANDMARK_POSITIVE
    for sample in LANDMARK_FREE:
        assert labels[sample] == LANDMARK_NEGATIVE
    assert dataset.class_names[dataset.positive] == LANDMARK_POSITIVE
    assert dataset.name == "tcga"


def test_features_match_their_sample(legacy: Path) -> None:
    dataset = load_tcga(legacy)

    assert list(dataset.X.columns) == list(GENES)
    for sample in dataset.X.index:
        expected = expression_values(len(GENES), [sample])[:, 0]
        np.testing.assert_allclose(dataset.X.loc[sample].to_numpy(), expected)


def test_landmark_drop_counts(legacy: Path) -> None:
    dropped = load_tcga(legacy).provenance["dropped"]

    assert "normal tissue (sample types 10-19): 2" in dropped
    assert "tumour other than primary (sample types 02-09): 2" in dropped
    assert "further primary tumour samples of a patient: 0" in dropped
    assert "no row in the survival files: 1" in dropped
    assert "redacted in the survival file: 1" in dropped
    assert "missing PFI or PFI.time: 1" in dropped
    assert "censored before day 365: 1" in dropped


def test_landmark_days_moves_the_boundary(legacy: Path) -> None:
    dataset = load_tcga(legacy, landmark_days=600)

    labels = labels_by_sample(dataset)
    # TCGA-05-0005-01 progressed at day 500; 0003 (censored at 200) stays dropped.
    assert labels["TCGA-05-0005-01"] == "progressed within 600 days"
    assert labels["TCGA-05-0002-01"] == "progression-free beyond 600 days"
    assert "TCGA-05-0003-01" not in labels
    assert "censored before day 600: 2" in dataset.provenance["dropped"]


def test_pfi_target_labels(legacy: Path) -> None:
    dataset = load_tcga(legacy, target="pfi", name="tcga-pfi")

    labels = labels_by_sample(dataset)
    assert sorted(labels) == sorted(PFI_EVENT + PFI_NO_EVENT)
    for sample in PFI_EVENT:
        assert labels[sample] == "PFI event"
    for sample in PFI_NO_EVENT:
        assert labels[sample] == "no PFI event"
    assert "missing PFI: 1" in dataset.provenance["dropped"]
    assert "censored" not in dataset.provenance["dropped"]


def test_pfi_target_needs_no_pfi_time(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    columns = ("sample", "_PATIENT", "OS", "OS.time", "PFI")
    rows = [Survival(s, str(i % 2), "") for i, s in enumerate(LUAD_SAMPLES)]
    write_survival(tcga_dir / "survival/LUAD_survival.txt", rows, columns=columns)

    dataset = load_tcga(tmp_path, target="pfi")

    labels = labels_by_sample(dataset)
    assert labels["TCGA-05-0001-01"] == "no PFI event"
    assert labels["TCGA-05-0002-01"] == "no PFI event"
    assert labels["TCGA-05-0003-01"] == "PFI event"


def test_provenance_names_files_and_label(legacy: Path) -> None:
    provenance = load_tcga(legacy).provenance

    assert "TCGA.LUAD.sampleMap/HiSeqV2" in provenance["accession"]
    assert "survival/LUSC_survival.txt" in provenance["accession"]
    assert "PFI.time <= 365" in provenance["label_definition"]
    assert "tcga.xenahubs.net" in provenance["source"]
    for key in ("citation", "licence"):
        assert provenance[key]


def test_drop_counts_are_logged(legacy: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="plugins.tcga"):
        load_tcga(legacy)

    messages = [r.getMessage() for r in caplog.records if r.name == "plugins.tcga"]
    summary = [m for m in messages if "patients x" in m]
    assert len(summary) == 1
    assert "7 patients x 6 genes kept" in summary[0]
    assert "censored before day 365: 1" in summary[0]
    assert any("no survival row" in m and "TCGA-05-0006-01" in m for m in messages)


# Compression and accepted layouts


def test_gzip_detected_by_content(tmp_path: Path) -> None:
    # A gzip file without .gz, and a plain file named .gz.
    write_legacy_tcga(tmp_path, luad_name="HiSeqV2", lusc_name="HiSeqV2.gz")
    luad = tmp_path / "tcga/TCGA.LUAD.sampleMap/HiSeqV2"
    luad.write_bytes(gzip.compress(luad.read_bytes()))
    lusc = tmp_path / "tcga/TCGA.LUSC.sampleMap/HiSeqV2.gz"
    lusc.write_bytes(gzip.decompress(lusc.read_bytes()))

    dataset = load_tcga(tmp_path)

    assert len(dataset.y) == 7


def test_gzip_survival_files_are_read(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_survival_files(tcga_dir, compress=True)

    assert len(load_tcga(tmp_path).y) == 7


def test_flat_survival_names_accepted(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    for cohort in ("LUAD", "LUSC"):
        (tcga_dir / f"survival/{cohort}_survival.txt").rename(
            tcga_dir / f"{cohort}_survival.txt"
        )

    assert len(load_tcga(tmp_path).y) == 7


def test_lung_combined_matrix_is_accepted(tmp_path: Path) -> None:
    tcga_dir = tmp_path / "tcga"
    write_xena_matrix(
        tcga_dir / "TCGA.LUNG.sampleMap/HiSeqV2.gz",
        LUAD_SAMPLES + LUSC_SAMPLES,
        compress=True,
    )
    write_survival_files(tcga_dir)

    dataset = load_tcga(tmp_path)

    assert sorted(dataset.X.index) == sorted(LANDMARK_PROGRESSED + LANDMARK_FREE)
    assert "LUNG" in dataset.provenance["source"]


def test_gdc_matrices_with_vial_letters(tmp_path: Path) -> None:
    tcga_dir = tmp_path / "tcga"
    genes = ("ENSG00000141510.18", "ENSG00000146648.19", "ENSG00000133703.13")
    luad = (
        "TCGA-05-0001-01B",
        "TCGA-05-0001-01A",  # vial A wins over B
        "TCGA-05-0001-11A",
        "TCGA-05-0002-01A",
        "TCGA-05-0005-01A",
    )
    lusc = ("TCGA-18-0007-01A", "TCGA-18-0008-01A", "TCGA-18-0009-01C")
    write_xena_matrix(
        tcga_dir / "TCGA-LUAD.star_tpm.tsv.gz",
        luad,
        genes=genes,
        id_column="Ensembl_ID",
        compress=True,
    )
    write_xena_matrix(
        tcga_dir / "TCGA-LUSC.star_tpm.tsv",
        lusc,
        genes=genes,
        id_column="Ensembl_ID",
    )
    write_survival_files(tcga_dir)

    dataset = load_tcga(tmp_path)

    assert sorted(dataset.X.index) == [
        "TCGA-05-0001-01A",
        "TCGA-05-0002-01A",
        "TCGA-05-0005-01A",
        "TCGA-18-0007-01A",
        "TCGA-18-0008-01A",
        "TCGA-18-0009-01C",
    ]
    assert list(dataset.X.columns) == list(genes)
    expected = expression_values(len(genes), ["TCGA-05-0001-01A"])[:, 0]
    np.testing.assert_allclose(dataset.X.loc["TCGA-05-0001-01A"], expected)
    dropped = dataset.provenance["dropped"]
    assert "further primary tumour samples of a patient: 1" in dropped
    assert "GDC hub star_tpm" in dataset.provenance["source"]


def test_genes_missing_from_one_file_are_dropped(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_xena_matrix(
        tcga_dir / "TCGA.LUSC.sampleMap/HiSeqV2.gz",
        LUSC_SAMPLES,
        genes=GENES[:4],
        compress=True,
    )

    dataset = load_tcga(tmp_path)

    assert list(dataset.X.columns) == list(GENES[:4])


def test_repeated_primary_id_across_files(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_xena_matrix(
        tcga_dir / "TCGA.LUSC.sampleMap/HiSeqV2.gz",
        LUSC_SAMPLES + ("TCGA-05-0002-01",),
        compress=True,
    )

    dataset = load_tcga(tmp_path)

    assert list(dataset.X.index).count("TCGA-05-0002-01") == 1
    dropped = dataset.provenance["dropped"]
    assert "further primary tumour samples of a patient: 1" in dropped


# Preprocessed table


def test_tcga_prefers_preprocessed_table(legacy: Path) -> None:
    write_preprocessed(legacy / "tcga/preprocessed.csv")
    specs = specs_by_name()

    dataset = specs["tcga"].loader(legacy)

    assert list(dataset.X.columns) == ["g1", "g2", "g3"]
    assert list(dataset.X.index) == [f"S{i}" for i in range(8)]
    assert dataset.class_counts == {"0": 5, "1": 3}
    assert "preprocessed.csv" in dataset.provenance["source"]


def test_named_targets_ignore_preprocessed_table(legacy: Path) -> None:
    write_preprocessed(legacy / "tcga/preprocessed.csv")
    specs = specs_by_name()

    landmark = specs["tcga-landmark"].loader(legacy)
    pfi = specs["tcga-pfi"].loader(legacy)

    assert list(landmark.X.columns) == list(GENES)
    assert set(landmark.class_names) == {LANDMARK_POSITIVE, LANDMARK_NEGATIVE}
    assert set(pfi.class_names) == {"PFI event", "no PFI event"}


def test_preprocessed_table_without_raw_files(tmp_path: Path) -> None:
    write_preprocessed(tmp_path / "tcga/preprocessed.csv", index=False)
    specs = specs_by_name()

    assert specs["tcga"].missing_files(tmp_path) == []
    assert specs["tcga-pfi"].missing_files(tmp_path) != []
    dataset = specs["tcga"].loader(tmp_path)
    assert dataset.X.shape == (8, 3)


def test_preprocessed_other_label_column(tmp_path: Path) -> None:
    write_preprocessed(tmp_path / "tcga/preprocessed.csv", target_column="PFS")

    dataset = load_tcga(tmp_path, use_preprocessed=True, target_column="PFS")

    assert dataset.class_counts == {"0": 5, "1": 3}


def test_preprocessed_table_without_label_column(tmp_path: Path) -> None:
    write_preprocessed(tmp_path / "tcga/preprocessed.csv", target_column="PFS")

    with pytest.raises(DatasetError, match="no label column 'target'.*'PFS'"):
        load_tcga(tmp_path, use_preprocessed=True)


def test_preprocessed_table_with_text_feature(tmp_path: Path) -> None:
    write_text(
        tmp_path / "tcga/preprocessed.csv",
        ",g1,stage,target\nS0,0.1,IIa,1\nS1,0.2,IIb,0\n",
    )

    with pytest.raises(DatasetError, match="'stage' are not numeric"):
        load_tcga(tmp_path, use_preprocessed=True)


# Registration and options


def test_registered_names_and_suites() -> None:
    specs = specs_by_name()

    assert sorted(specs) == ["tcga", "tcga-landmark", "tcga-pfi"]
    assert specs["tcga"].suites == ("paper",)
    assert specs["tcga-landmark"].suites == ()
    assert specs["tcga-pfi"].suites == ()
    for spec in specs.values():
        assert spec.description


def test_registered_loaders_name_their_dataset(legacy: Path) -> None:
    specs = specs_by_name()

    for name, spec in specs.items():
        assert spec.loader(legacy).name == name


def test_landmark_days_from_environment(legacy: Path, monkeypatch) -> None:
    monkeypatch.setenv(tcga.LANDMARK_DAYS_ENV, "600")

    dataset = specs_by_name()["tcga-landmark"].loader(legacy)

    assert "progressed within 600 days" in dataset.class_names


def test_invalid_landmark_days_variable(legacy: Path, monkeypatch) -> None:
    monkeypatch.setenv(tcga.LANDMARK_DAYS_ENV, "one year")

    with pytest.raises(ConfigurationError, match="BENCH_TCGA_LANDMARK_DAYS='one year'"):
        specs_by_name()["tcga"].loader(legacy)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target": "pfs"}, "target 'pfs' is not one of"),
        ({"landmark_days": 0}, "positive number of days, not 0"),
        ({"landmark_days": 365.0}, "int number of days"),
    ],
)
def test_invalid_options(legacy: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_tcga(legacy, **options)


# Missing files


def test_missing_files_on_empty_folder(tmp_path: Path) -> None:
    assert missing_tcga_files(tmp_path) == [
        "TCGA.LUAD.sampleMap/HiSeqV2",
        "TCGA.LUSC.sampleMap/HiSeqV2",
        "survival/LUAD_survival.txt",
        "survival/LUSC_survival.txt",
    ]


def test_missing_files_of_closest_layout(tmp_path: Path) -> None:
    write_xena_matrix(tmp_path / "tcga/TCGA-LUAD.htseq_fpkm.tsv.gz", LUAD_SAMPLES)
    write_survival_files(tmp_path / "tcga")

    assert missing_tcga_files(tmp_path) == ["TCGA-LUSC.htseq_fpkm.tsv"]


def test_missing_files_empty_when_complete(legacy: Path) -> None:
    assert missing_tcga_files(legacy) == []


def test_missing_files_error_message(tmp_path: Path) -> None:
    write_xena_matrix(tmp_path / "TCGA.LUAD.sampleMap/HiSeqV2", LUAD_SAMPLES)

    with pytest.raises(DatasetError) as caught:
        load_tcga(tmp_path)

    message = str(caught.value)
    assert "missing file(s)" in message
    assert "TCGA.LUSC.sampleMap/HiSeqV2, survival/LUAD_survival.txt" in message
    assert "https://tcga.xenahubs.net" in message
    assert "--data-dir" in message
    assert "BENCH_DATA_DIR" in message
    assert str(tmp_path / "tcga") in message


# Malformed inputs


def test_samples_by_genes_file_is_rejected(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    values = expression_values(len(GENES), LUAD_SAMPLES)
    lines = ["\t".join(["sample", *GENES])]
    for j, sample in enumerate(LUAD_SAMPLES):
        lines.append("\t".join([sample, *(f"{v:.4f}" for v in values[:, j])]))
    write_text(tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2", "\n".join(lines) + "\n")

    with pytest.raises(DatasetError, match="is samples x genes.*transpose"):
        load_tcga(tmp_path)


def test_header_without_barcodes_is_rejected(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_text(tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2", "gene\tA\tB\nTP53\t1.0\t2.0\n")

    with pytest.raises(DatasetError, match="header row contains no TCGA sample"):
        load_tcga(tmp_path)


def test_header_with_non_barcode_cells(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_xena_matrix(
        tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2",
        ("TCGA-05-0001-01", "patient 2"),
        values=np.ones((len(GENES), 2)),
    )

    with pytest.raises(DatasetError, match=r"1 header cell\(s\).*'patient 2'"):
        load_tcga(tmp_path)


def test_repeated_sample_column_is_rejected(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_xena_matrix(
        tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2",
        ("TCGA-05-0001-01", "TCGA-05-0001-01"),
    )

    with pytest.raises(DatasetError, match="appear more than once"):
        load_tcga(tmp_path)


def test_duplicate_genes_keep_first_row(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    genes = (*GENES, "TP53")
    values = write_xena_matrix(
        tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2", LUAD_SAMPLES, genes=genes
    )
    values[-1] = -1.0
    write_xena_matrix(
        tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2",
        LUAD_SAMPLES,
        genes=genes,
        values=values,
    )

    with pytest.warns(BenchWarning, match=r"1 row\(s\) repeat a gene id.*'TP53'"):
        dataset = load_tcga(tmp_path)

    assert list(dataset.X.columns) == list(GENES)
    assert (dataset.X["TP53"] >= 0).all()


def test_missing_expression_value(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_xena_matrix(
        tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2",
        LUAD_SAMPLES,
        cells={(1, 2): "", (3, 0): "NA"},
    )

    with pytest.raises(
        DatasetError,
        match=r"2 value\(s\) are missing \(gene 'EGFR' in sample 'TCGA-05-0002-01'",
    ):
        load_tcga(tmp_path)


def test_non_numeric_expression_value(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    write_xena_matrix(
        tcga_dir / "TCGA.LUSC.sampleMap/HiSeqV2.gz",
        LUSC_SAMPLES,
        cells={(2, 1): "high"},
        compress=True,
    )

    with pytest.raises(
        DatasetError,
        match=r"1 value\(s\) are not numbers \(gene 'KRAS' in sample "
        r"'TCGA-18-0008-01': 'high'\)",
    ):
        load_tcga(tmp_path)


def test_ids_matching_no_survival_row(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    other = [Survival("TCGA-99-9999-01", "1", "10")]
    write_survival(tcga_dir / "survival/LUAD_survival.txt", other)
    write_survival(tcga_dir / "survival/LUSC_survival.txt", other)

    with pytest.raises(
        DatasetError,
        match=r"none of the 11 primary tumour samples.*'TCGA-05-0001-01'.*"
        r"'TCGA-99-9999-01'",
    ):
        load_tcga(tmp_path)


def test_gdc_survival_file_without_pfi(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    rows = [Survival(s, "", "") for s in LUAD_SAMPLES]
    write_survival(
        tcga_dir / "survival/LUAD_survival.txt",
        rows,
        columns=("sample", "OS", "_PATIENT", "OS.time"),
    )

    with pytest.raises(
        DatasetError, match=r"no column\(s\) \['PFI', 'PFI.time'\].*OS only"
    ):
        load_tcga(tmp_path)


def test_landmark_needs_pfi_time(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    columns = ("sample", "_PATIENT", "OS", "OS.time", "PFI")
    write_survival(
        tcga_dir / "survival/LUSC_survival.txt",
        [Survival(s, "1", "") for s in LUSC_SAMPLES],
        columns=columns,
    )

    with pytest.raises(DatasetError, match=r"no column\(s\) \['PFI.time'\]"):
        load_tcga(tmp_path)


def test_non_numeric_survival_time(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    rows = [Survival("TCGA-05-0001-01", "1", "about 100")]
    write_survival(tcga_dir / "survival/LUAD_survival.txt", rows)

    with pytest.raises(
        DatasetError, match=r"column 'PFI.time' are not numbers.*'about 100'"
    ):
        load_tcga(tmp_path)


def test_pfi_flag_other_than_zero_or_one(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    rows = [Survival("TCGA-05-0001-01", "2", "100")]
    write_survival(tcga_dir / "survival/LUAD_survival.txt", rows)

    with pytest.raises(DatasetError, match="PFI value.*not 0 or 1"):
        load_tcga(tmp_path)


# Cache


def test_second_load_reads_the_cache(legacy: Path, monkeypatch) -> None:
    first = load_tcga(legacy)
    cached = sorted(p.name for p in (legacy / ".cache").iterdir())
    assert len([name for name in cached if name.endswith(".npy")]) == 2
    assert len([name for name in cached if name.endswith(".json")]) == 2

    def fail(path: Path) -> None:
        raise AssertionError(f"parsed {path} again")

    monkeypatch.setattr(tcga, "_parse_xena_matrix", fail)
    second = load_tcga(legacy)

    np.testing.assert_array_equal(first.X.to_numpy(), second.X.to_numpy())
    np.testing.assert_array_equal(first.y, second.y)
    assert list(first.X.index) == list(second.X.index)


def test_cache_key_follows_content(legacy: Path) -> None:
    load_tcga(legacy)
    luad = legacy / "tcga/TCGA.LUAD.sampleMap/HiSeqV2"
    os.utime(luad, (0, 0))
    load_tcga(legacy)
    assert len(list((legacy / ".cache").glob("*.npy"))) == 2

    values = expression_values(len(GENES), LUAD_SAMPLES) + 100
    write_xena_matrix(luad, LUAD_SAMPLES, values=values)
    dataset = load_tcga(legacy)

    assert len(list((legacy / ".cache").glob("*.npy"))) == 3
    assert dataset.X.loc["TCGA-05-0001-01", "TP53"] > 100


def test_cache_keeps_the_duplicate_warning(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    genes = (*GENES, "EGFR")
    write_xena_matrix(
        tcga_dir / "TCGA.LUAD.sampleMap/HiSeqV2", LUAD_SAMPLES, genes=genes
    )

    for _ in range(2):
        with pytest.warns(BenchWarning, match="'EGFR'"):
            load_tcga(tmp_path)


def test_unreadable_cache_entry_reparsed(legacy: Path, caplog) -> None:
    first = load_tcga(legacy)
    for entry in (legacy / ".cache").glob("*.npy"):
        entry.write_bytes(b"not an npy file")

    with caplog.at_level(logging.WARNING, logger="plugins._tables"):
        second = load_tcga(legacy)

    np.testing.assert_array_equal(first.X.to_numpy(), second.X.to_numpy())
    assert any("unreadable cache entry" in r.getMessage() for r in caplog.records)


def test_unwritable_cache_still_loads(legacy: Path, monkeypatch, caplog) -> None:
    def fail_write(*args, **kwargs) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(_tables, "_write_cache_entry", fail_write)
    with caplog.at_level(logging.WARNING, logger="plugins._tables"):
        dataset = load_tcga(legacy)

    assert len(dataset.y) == 7
    assert any("cannot write the parse cache" in r.getMessage() for r in caplog.records)


def test_truncated_gzip_matrix(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    lusc = tcga_dir / "TCGA.LUSC.sampleMap/HiSeqV2.gz"
    lusc.write_bytes(lusc.read_bytes()[:-30])

    with pytest.raises(DatasetError, match="HiSeqV2.gz: cannot be .*may be truncated"):
        load_tcga(tmp_path)


def test_survival_row_with_extra_cells(tmp_path: Path) -> None:
    tcga_dir = write_legacy_tcga(tmp_path)
    survival = tcga_dir / "survival/LUSC_survival.txt"
    survival.write_text(survival.read_text() + "TCGA-18-0099-01\t1\t2\t3" + "\tx" * 12)

    with pytest.raises(DatasetError, match="LUSC_survival.txt: cannot be read"):
        load_tcga(tmp_path)
