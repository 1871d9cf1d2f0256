"""Tests of the ADNI dataset plugin on small files in the LONI formats."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pluggy
import pytest
from fixtures_clinical import (
    ADNI_METADATA_ROWS,
    ADNI_PROBES,
    ADNI_SAMPLES,
    ADNIMERGE_COLUMNS,
    ADNIMERGE_ROWS,
    DXSUM_COLUMNS,
    adni_values,
    write_adni,
    write_adni_expression,
    write_adnimerge,
    write_dxsum,
    write_preprocessed,
    write_text,
)

from benchmark import hookspecs
from benchmark.errors import BenchWarning, DatasetError
from plugins import adni
from plugins.adni import load_adni, missing_adni_files

EXPECTED = {
    f"{s.subject}/{s.visit}": s.expected
    for s in ADNI_SAMPLES
    if s.expected in ("CN", "MCI", "Dementia")
}


def labels_by_sample(dataset) -> dict[str, str]:
    return {
        sample: dataset.class_names[code]
        for sample, code in zip(dataset.X.index, dataset.y, strict=True)
    }


def registered_specs() -> dict:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(adni)
    return {
        spec.name: spec
        for specs in manager.hook.bench_register_datasets()
        for spec in specs
    }


@pytest.fixture
def adni_dir(tmp_path: Path) -> Path:
    write_adni(tmp_path)
    return tmp_path


def test_diagnosis_per_sample(adni_dir: Path) -> None:
    dataset = load_adni(adni_dir)

    assert labels_by_sample(dataset) == EXPECTED
    assert dataset.class_names == ("CN", "Dementia", "MCI")
    assert dataset.task == "multiclass"


def test_feature_names_are_probe_and_symbol(adni_dir: Path) -> None:
    dataset = load_adni(adni_dir)

    assert list(dataset.X.columns) == [
        "11715100_at_HIST1H3G",
        "11715101_s_at_HIST1H3G",
        "11715104_s_at_DNAJC3 || DNAJC2",
        "11715989_a_at_JTB",
        "11716000_at_2-Sep",
        "11716001_at",
    ]


def test_values_match_their_sample(adni_dir: Path) -> None:
    dataset = load_adni(adni_dir)

    values = adni_values(len(ADNI_PROBES), len(ADNI_SAMPLES))
    columns = [f"{s.subject}/{s.visit}" for s in ADNI_SAMPLES]
    for sample in dataset.X.index:
        expected = values[:, columns.index(sample)]
        np.testing.assert_allclose(dataset.X.loc[sample].to_numpy(), expected)


def test_unmatched_samples_are_counted(adni_dir: Path) -> None:
    provenance = load_adni(adni_dir).provenance

    dropped = provenance["dropped"]
    assert "raw visit code not in DXSUM_PDXCONV_ADNIALL.csv: 1" in dropped
    assert "no row for subject and visit in ADNIMERGE.csv: 1" in dropped
    assert "empty DX at the visit: 1" in dropped
    assert "SubjectID is not a PTID such as 009_S_2381: 0" in dropped
    assert provenance["screening visits labelled with the baseline DX"] == "1"


def test_unmatched_samples_are_logged(adni_dir: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="plugins.adni"):
        load_adni(adni_dir)

    messages = [r.getMessage() for r in caplog.records if r.name == "plugins.adni"]
    assert any("2 expression samples match no diagnosis" in m for m in messages)
    assert any("7 samples x 6 probes kept" in m for m in messages)


def test_raw_visit_code_needs_matching_phase(adni_dir: Path) -> None:
    # DXSUM maps v06 of RID 4577 only for ADNI1; the sample is from ADNI2.
    labels = labels_by_sample(load_adni(adni_dir))

    assert "014_S_4577/v06" not in labels


def test_gzip_expression_file_is_read(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    write_adni_expression(adni_dir / "ADNI_Gene_Expression_Profile.csv", compress=True)

    assert labels_by_sample(load_adni(tmp_path)) == EXPECTED


def test_dated_file_names_are_accepted(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    (adni_dir / "ADNIMERGE.csv").rename(adni_dir / "ADNIMERGE_12Oct2023.csv")
    (adni_dir / "DXSUM_PDXCONV_ADNIALL.csv").rename(
        adni_dir / "DXSUM_PDXCONV_ADNIALL_12Oct2023.csv"
    )

    dataset = load_adni(tmp_path)

    assert labels_by_sample(dataset) == EXPECTED
    assert "ADNIMERGE_12Oct2023.csv" in dataset.provenance["accession"]


def test_several_dated_files_are_rejected(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    (adni_dir / "ADNIMERGE.csv").rename(adni_dir / "ADNIMERGE_2022.csv")
    write_adnimerge(adni_dir / "ADNIMERGE_2023.csv")

    with pytest.raises(DatasetError, match="several ADNIMERGE files"):
        load_adni(tmp_path)


def test_older_diagnosis_spellings(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    rows = [
        (rid, ptid, visit, protocol, {"CN": "NL", "Dementia": "AD"}.get(dx, dx))
        for rid, ptid, visit, protocol, dx in ADNIMERGE_ROWS
    ]
    write_adnimerge(adni_dir / "ADNIMERGE.csv", rows)

    assert labels_by_sample(load_adni(tmp_path)) == EXPECTED


# Preprocessed table


def test_preprocessed_table_replaces_raw_files(adni_dir: Path) -> None:
    write_preprocessed(adni_dir / "adni/preprocessed.csv")

    dataset = registered_specs()["adni"].loader(adni_dir)

    assert dataset.X.shape == (8, 3)
    assert "preprocessed.csv" in dataset.provenance["source"]


def test_preprocessed_table_can_be_ignored(adni_dir: Path) -> None:
    write_preprocessed(adni_dir / "adni/preprocessed.csv")

    dataset = load_adni(adni_dir, use_preprocessed=False)

    assert labels_by_sample(dataset) == EXPECTED


def test_preprocessed_table_without_raw_files(tmp_path: Path) -> None:
    write_preprocessed(tmp_path / "adni/preprocessed.csv", target_column="DIAGNOSIS")

    assert missing_adni_files(tmp_path) == []
    dataset = load_adni(tmp_path, target_column="DIAGNOSIS")
    assert dataset.class_counts == {"0": 5, "1": 3}


# Registration and missing files


def test_registered_name_and_loader(adni_dir: Path) -> None:
    specs = registered_specs()

    assert list(specs) == ["adni"]
    assert specs["adni"].suites == ("paper",)
    assert specs["adni"].missing_files(adni_dir) == []
    assert specs["adni"].loader(adni_dir).name == "adni"


def test_missing_files_on_empty_folder(tmp_path: Path) -> None:
    assert missing_adni_files(tmp_path) == [
        "ADNI_Gene_Expression_Profile.csv",
        "ADNIMERGE.csv",
        "DXSUM_PDXCONV_ADNIALL.csv",
    ]


def test_missing_files_error_message(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    (adni_dir / "DXSUM_PDXCONV_ADNIALL.csv").unlink()

    with pytest.raises(DatasetError) as caught:
        load_adni(tmp_path)

    message = str(caught.value)
    assert "missing file(s)" in message
    assert ": DXSUM_PDXCONV_ADNIALL.csv." in message
    assert "LONI" in message
    assert "https://ida.loni.usc.edu" in message
    assert "--data-dir" in message
    assert "BENCH_DATA_DIR" in message


# Malformed inputs


def test_file_without_probeset_row(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    write_text(
        adni_dir / "ADNI_Gene_Expression_Profile.csv",
        "SubjectID,11715100_at,11715101_s_at\n009_S_0751,2.1,3.4\n",
    )

    with pytest.raises(DatasetError, match="no row starting with 'ProbeSet'"):
        load_adni(tmp_path)


def test_file_without_subject_row(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    rows = [name for name in ADNI_METADATA_ROWS if name != "SubjectID"]
    write_adni_expression(
        adni_dir / "ADNI_Gene_Expression_Profile.csv", metadata_rows=rows
    )

    with pytest.raises(DatasetError, match=r"metadata row\(s\) \['SubjectID'\]"):
        load_adni(tmp_path)


def test_non_numeric_expression_value(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    write_adni_expression(
        adni_dir / "ADNI_Gene_Expression_Profile.csv", cells={(3, 2): "n/d"}
    )

    with pytest.raises(
        DatasetError,
        match=r"1 value\(s\) are not numbers \(probe '11715989_a_at_JTB' in "
        r"sample '009_S_2381/v03': 'n/d'\)",
    ):
        load_adni(tmp_path)


def test_missing_expression_values(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    write_adni_expression(
        adni_dir / "ADNI_Gene_Expression_Profile.csv",
        cells={(0, 1): "", (4, 5): "NA"},
    )

    with pytest.raises(
        DatasetError,
        match=r"2 value\(s\) are missing \(probe '11715100_at_HIST1H3G' in "
        r"sample '011_S_4105/bl'",
    ):
        load_adni(tmp_path)


def test_repeated_probe_keeps_first_row(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    probes = (*ADNI_PROBES, ADNI_PROBES[3])
    write_adni_expression(adni_dir / "ADNI_Gene_Expression_Profile.csv", probes=probes)

    with pytest.warns(BenchWarning, match="'11715989_a_at_JTB'"):
        dataset = load_adni(tmp_path)

    assert dataset.X.shape[1] == len(ADNI_PROBES)


def test_adnimerge_without_dx_column(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    columns = [c for c in ADNIMERGE_COLUMNS if c != "DX"]
    write_adnimerge(adni_dir / "ADNIMERGE.csv", columns=columns)

    with pytest.raises(DatasetError, match=r"ADNIMERGE.csv: no column\(s\) \['DX'\]"):
        load_adni(tmp_path)


def test_dxsum_without_viscode2_column(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    columns = [c for c in DXSUM_COLUMNS if c != "VISCODE2"]
    write_dxsum(adni_dir / "DXSUM_PDXCONV_ADNIALL.csv", columns=columns)

    with pytest.raises(DatasetError, match=r"no column\(s\) \['VISCODE2'\]"):
        load_adni(tmp_path)


def test_unknown_diagnosis_value(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    rows = [*ADNIMERGE_ROWS, ("9", "099_S_0009", "bl", "ADNI1", "SMC")]
    write_adnimerge(adni_dir / "ADNIMERGE.csv", rows)

    with pytest.raises(DatasetError, match=r"DX value\(s\) \['SMC'\]"):
        load_adni(tmp_path)


def test_no_sample_with_a_diagnosis(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    write_adnimerge(
        adni_dir / "ADNIMERGE.csv", [("9", "099_S_0009", "bl", "ADNI1", "CN")]
    )

    with pytest.raises(
        DatasetError,
        match=r"none of the 10 samples .* has a diagnosis.*'009_S_0751/m48'",
    ):
        load_adni(tmp_path)


# Cache


def test_second_load_reads_the_cache(adni_dir: Path, monkeypatch) -> None:
    first = load_adni(adni_dir)

    def fail(path: Path) -> None:
        raise AssertionError(f"parsed {path} again")

    monkeypatch.setattr(adni, "_parse", fail)
    second = load_adni(adni_dir)

    np.testing.assert_array_equal(first.X.to_numpy(), second.X.to_numpy())
    assert labels_by_sample(first) == labels_by_sample(second)
    assert len(list((adni_dir / ".cache").glob("adni-expression-v1-*.npy"))) == 1


def test_truncated_gzip_expression_file(tmp_path: Path) -> None:
    adni_dir = write_adni(tmp_path)
    path = adni_dir / "ADNI_Gene_Expression_Profile.csv"
    write_adni_expression(path, compress=True)
    path.write_bytes(path.read_bytes()[:-20])

    with pytest.raises(DatasetError, match="Profile.csv: cannot be .*may be truncated"):
        load_adni(tmp_path)
