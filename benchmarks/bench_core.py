"""Core benchmarks: indexing throughput and query latency on the full catalog.

Every speed is reported next to a baseline measured in the same run (ratios survive noisy
machines; absolute times do not). Run from the project root:

    python benchmarks/bench_core.py            # full 16,185-image catalog, ~4 minutes

Writes benchmarks/results/core.json and core.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe

from revsearch.catalog.catalog import Catalog
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.index.exact import ExactIndex
from revsearch.indexing import Indexer
from revsearch.preprocess import prepare
from revsearch.search import Searcher
from revsearch.sources import read_manifest

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT.parent / "shared" / "data" / "stanford-cars" / "manifest.csv"
RESULTS = ROOT / "benchmarks" / "results"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_indexing(model: Path, catalog_dir: Path, limit: int | None) -> dict:
    sources = read_manifest(MANIFEST, limit=limit)
    encoder = OnnxEncoder(model, threads=1)
    start = time.perf_counter()
    with Catalog.open(catalog_dir, create=True) as catalog:
        report = Indexer(catalog, encoder).run(sources)
        indexed_at = time.perf_counter()
        catalog.vector_index()
        catalog.save()
    done = time.perf_counter()
    assert report.added + report.duplicates == len(sources) and not report.failed, report
    return {
        "images": len(sources),
        "indexed": report.added,
        "duplicates_skipped": report.duplicates,
        "seconds": round(indexed_at - start, 2),
        "images_per_s": round(len(sources) / (indexed_at - start), 1),
        "hnsw_build_seconds": round(done - indexed_at, 2),
    }


def bench_plain_loop(model: Path, count: int, batch: int = 32) -> dict:
    """Baseline: decode serially, one 2-thread ONNX Runtime session, batches of 32."""
    paths = [s.path for s in read_manifest(MANIFEST, limit=count)]
    encoder = OnnxEncoder(model, threads=2)
    start = time.perf_counter()
    for i in range(0, len(paths), batch):
        encoder.encode_arrays(
            np.stack([prepare(p, encoder.transform) for p in paths[i : i + batch]])
        )
    seconds = time.perf_counter() - start
    return {"images": len(paths), "images_per_s": round(len(paths) / seconds, 1)}


def bench_queries(model: Path, catalog_dir: Path, queries: int) -> dict:
    """Single-query latency (decode + encode + search) against the whole catalog."""
    query_paths = [s.path for s in read_manifest(MANIFEST)][-queries:]
    encoder = OnnxEncoder(model, threads=2)
    with Catalog.open(catalog_dir) as catalog:
        searcher = Searcher(catalog, encoder)
        searcher.search(query_paths[0], 6)  # load the index
        timings: dict[str, list[float]] = {"decode": [], "encode": [], "search": [], "total": []}
        for path in query_paths:
            response = searcher.search(path, 6)
            for key in timings:
                timings[key].append(response.timings_ms[key])
        # Exact search over the same vectors, for the ANN speed-up and its recall.
        ids, matrix = catalog.vectors()
        exact = ExactIndex(catalog.dim)
        exact.add(ids, matrix)
        ann = catalog.vector_index()
        vectors = encoder.encode(query_paths[:100])
        found, ann_ms, exact_ms = 0, [], []
        for vector in vectors:
            t0 = time.perf_counter()
            ann_keys, _ = ann.search(vector, 10)
            t1 = time.perf_counter()
            exact_keys, _ = exact.search(vector, 10)
            t2 = time.perf_counter()
            found += len(set(ann_keys.tolist()) & set(exact_keys.tolist()))
            ann_ms.append((t1 - t0) * 1e3)
            exact_ms.append((t2 - t1) * 1e3)
        kind = ann.kind
    result = {
        key: {"p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2)}
        for key, v in timings.items()
    }
    result["queries"] = len(query_paths)
    result["model_id"] = encoder.model_id
    result["index"] = {
        "kind": kind,
        "recall@10_vs_exact": round(found / (10 * len(vectors)), 4),
        "ann_p50_ms": round(percentile(ann_ms, 50), 3),
        "exact_p50_ms": round(percentile(exact_ms, 50), 3),
    }
    return result


def markdown(results: dict) -> str:
    ix, base, q = results["indexing"], results["plain_onnx_loop"], results["query"]
    machine = results["machine"]
    ix_kind, ix_recall = q["index"]["kind"], q["index"]["recall@10_vs_exact"]
    rows = [
        "| measure | value | baseline in the same run | ratio |",
        "|---|---|---|---|",
        f"| indexing ({ix['images']:,} images, decode+encode+insert) | {ix['images_per_s']} img/s "
        f"| plain batched ORT loop: {base['images_per_s']} img/s | "
        f"{ix['images_per_s'] / base['images_per_s']:.2f}x |",
        f"| query p50 / p99 (decode+encode+search, {q['queries']} queries) | "
        f"{q['total']['p50_ms']} / {q['total']['p99_ms']} ms | | |",
        f"| search only ({ix_kind}, Recall@10 vs exact {ix_recall}) "
        f"| {q['index']['ann_p50_ms']} ms | exact: {q['index']['exact_p50_ms']} ms | "
        f"{q['index']['exact_p50_ms'] / q['index']['ann_p50_ms']:.1f}x |",
    ]
    rows += [
        "",
        f"Model `{q['model_id']}`. Encoder speed and accuracy: bench_encoder.py.",
        "",
        f"Machine: {machine['cpu']}, {machine['cpus']} cores ({' '.join(machine['cpu_flags'])})",
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=None, help="keep the built catalog here")
    parser.add_argument("--limit", type=int, default=None, help="index only N images (smoke run)")
    parser.add_argument("--baseline-images", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    model = resolve_model_path()
    with tempfile.TemporaryDirectory() as scratch:
        catalog_dir = args.catalog or Path(scratch) / "catalog"
        if (catalog_dir / "catalog.sqlite").exists():
            raise SystemExit(f"{catalog_dir} already holds a catalog; give an empty folder")
        results = {
            "machine": describe(),
            "indexing": bench_indexing(model, catalog_dir, args.limit),
            "plain_onnx_loop": bench_plain_loop(model, args.baseline_images),
            "query": bench_queries(model, catalog_dir, args.queries),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "core.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "core.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
