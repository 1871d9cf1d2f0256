"""Time the first (parsing) and the cached load of full-size TCGA Xena files.

The script writes synthetic files of the real size and format into a temporary
folder: TCGA.LUAD.sampleMap/HiSeqV2 and TCGA.LUSC.sampleMap/HiSeqV2 (20,530 genes
x 576 and 553 samples, tab-separated, 4 decimals, gzip-compressed) and the two
survival files. It then loads the ``tcga`` dataset with an empty cache, and
again from the cache, and prints the wall-clock times.

Usage::

    python benchmarks/bench_tcga_load.py [--genes 20530] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from plugins.tcga import load_tcga

# The legacy hub's LUAD file has 515 primary, 2 recurrent and 59 normal samples.
# Its LUSC file has 553 samples, of which 51 are taken as normal here.
COHORTS = {
    "LUAD": {"tss": "05", "primary": 515, "recurrent": 2, "normal": 59},
    "LUSC": {"tss": "18", "primary": 502, "recurrent": 0, "normal": 51},
}


def barcodes(tss: str, primary: int, recurrent: int, normal: int) -> list[str]:
    """Return sample barcodes; recurrent and normal samples reuse patients."""
    patients = [f"TCGA-{tss}-{i:04d}" for i in range(primary)]
    samples = [f"{p}-01" for p in patients]
    samples += [f"{p}-02" for p in patients[:recurrent]]
    samples += [f"{p}-11" for p in patients[recurrent : recurrent + normal]]
    return samples


def write_matrix(path: Path, genes: list[str], samples: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    row_format = "\t".join(["%.4f"] * len(samples))
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as handle:
        handle.write("\t".join(["sample", *samples]) + "\n")
        for gene in genes:
            values = np.round(rng.gamma(2.0, 3.0, len(samples)), 4)
            handle.write(f"{gene}\t{row_format % tuple(values)}\n")


def write_survival(path: Path, samples: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(samples)
    frame = pd.DataFrame(
        {
            "sample": samples,
            "_PATIENT": [s[:12] for s in samples],
            "OS": rng.integers(0, 2, n),
            "OS.time": rng.integers(1, 4000, n),
            "DSS": rng.integers(0, 2, n),
            "DSS.time": rng.integers(1, 4000, n),
            "DFI": "",
            "DFI.time": "",
            "PFI": (rng.random(n) < 0.35).astype(int),
            "PFI.time": rng.integers(1, 4000, n),
            "Redaction": "",
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=False)


def write_inputs(data_dir: Path, n_genes: int) -> list[Path]:
    genes = [f"GENE{i}" for i in range(n_genes)]
    matrices = []
    for seed, (cohort, counts) in enumerate(COHORTS.items()):
        samples = barcodes(**counts)
        matrix = data_dir / f"tcga/TCGA.{cohort}.sampleMap/HiSeqV2.gz"
        write_matrix(matrix, genes, samples, seed)
        write_survival(data_dir / f"tcga/survival/{cohort}_survival.txt", samples, seed)
        matrices.append(matrix)
    return matrices


def timed_load(data_dir: Path) -> tuple[float, tuple[int, int]]:
    started = time.perf_counter()
    dataset = load_tcga(data_dir)
    return time.perf_counter() - started, dataset.X.shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20530, help="number of genes")
    parser.add_argument(
        "--repeats", type=int, default=3, help="cached loads to time after the first"
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench-tcga-"))
    try:
        started = time.perf_counter()
        matrices = write_inputs(data_dir, args.genes)
        written = time.perf_counter() - started
        sizes = ", ".join(
            f"{path.parent.name}/{path.name} {path.stat().st_size / 2**20:.1f} MiB"
            for path in matrices
        )
        print(
            f"machine: {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"pandas {pd.__version__}, numpy {np.__version__}"
        )
        print(f"wrote {sizes} in {written:.1f} s")

        first, shape = timed_load(data_dir)
        cache = data_dir / ".cache"
        cache_size = sum(p.stat().st_size for p in cache.iterdir()) / 2**20
        print(f"dataset: {shape[0]} patients x {shape[1]} genes")
        print(f"first load (parse + cache write): {first:.2f} s")
        print(f"cache: {cache_size:.0f} MiB in {cache}")

        cached = [timed_load(data_dir)[0] for _ in range(args.repeats)]
        print(
            f"cached load: best {min(cached):.2f} s, "
            f"mean {sum(cached) / len(cached):.2f} s over {len(cached)} runs"
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
