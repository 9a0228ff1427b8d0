"""Core benchmarks: indexing throughput, query latency, ONNX vs PyTorch, retrieval accuracy.

Every speed is reported next to a baseline measured in the same run (ratios survive noisy
machines; absolute times do not). Run from the project root:

    python benchmarks/bench_core.py            # full 16,185-image catalog, ~4 minutes

Writes benchmarks/results/core.json and core.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from revsearch.catalog.catalog import Catalog
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.eval.runner import evaluate
from revsearch.index.exact import ExactIndex
from revsearch.indexing import Indexer, read_manifest
from revsearch.preprocess import prepare
from revsearch.search import Searcher

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
        ids, matrix = catalog.db.vectors(catalog.model_id, catalog.dim)
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
    result["index"] = {
        "kind": kind,
        "recall@10_vs_exact": round(found / (10 * len(vectors)), 4),
        "ann_p50_ms": round(percentile(ann_ms, 50), 3),
        "exact_p50_ms": round(percentile(exact_ms, 50), 3),
    }
    return result


def bench_onnx_vs_torch(model: Path, repeats: int = 30) -> dict:
    """Same encoder, same inputs, 2 threads each: ONNX Runtime against eager PyTorch."""
    import torch

    from revsearch.encoder.export import EmbeddingNet, load_backbone
    from revsearch.encoder.registry import get_pretrained

    encoder = OnnxEncoder(model, threads=2)
    torch.set_num_threads(2)
    net = EmbeddingNet(load_backbone(get_pretrained(encoder.model_id))).eval()
    out = {}
    for batch in (1, 32):
        images = np.random.default_rng(0).normal(size=(batch, 3, 224, 224)).astype(np.float32)
        tensor = torch.from_numpy(images)
        with torch.inference_mode():
            net(tensor)
            encoder.encode_arrays(images)
            runs = max(3, repeats // batch * 4) if batch > 1 else repeats
            t0 = time.perf_counter()
            for _ in range(runs):
                net(tensor)
            torch_ms = (time.perf_counter() - t0) / runs / batch * 1e3
            t0 = time.perf_counter()
            for _ in range(runs):
                encoder.encode_arrays(images)
            onnx_ms = (time.perf_counter() - t0) / runs / batch * 1e3
        out[f"batch_{batch}"] = {
            "torch_ms_per_image": round(torch_ms, 2),
            "onnxruntime_ms_per_image": round(onnx_ms, 2),
            "speedup": round(torch_ms / onnx_ms, 2),
        }
    return out


def bench_int8(model: Path, scratch: Path, repeats: int = 100) -> dict:
    """Static int8 copy (calibrated on 200 training-class images) against the float model."""
    import random

    from revsearch.encoder.quantize import quantize

    train = [s.path for s in read_manifest(MANIFEST, split="train")]
    int8_path = scratch / "int8.onnx"
    quantize(model, int8_path, random.Random(0).sample(train, 200))
    float_encoder, int8_encoder = OnnxEncoder(model, threads=2), OnnxEncoder(int8_path, threads=2)
    queries = [s.path for s in read_manifest(MANIFEST, split="eval")][:200]
    cosine = (float_encoder.encode(queries) * int8_encoder.encode(queries)).sum(axis=1)
    image = prepare(queries[0], float_encoder.transform)[None]
    timings = {}
    for name, encoder in (("float", float_encoder), ("int8", int8_encoder)):
        encoder.encode_arrays(image)
        start = time.perf_counter()
        for _ in range(repeats):
            encoder.encode_arrays(image)
        timings[name] = (time.perf_counter() - start) / repeats * 1e3
    return {
        "float_ms_per_image": round(timings["float"], 2),
        "int8_ms_per_image": round(timings["int8"], 2),
        "speedup": round(timings["float"] / timings["int8"], 2),
        "size_mb": {
            "float": round(model.stat().st_size / 1e6, 1),
            "int8": round(int8_path.stat().st_size / 1e6, 1),
        },
        "embedding_cosine_mean": round(float(cosine.mean()), 4),
        "int8_path": str(int8_path),
    }


def bench_accuracy(model: Path, perturb: bool = False) -> dict:
    encoder = OnnxEncoder(model, threads=1)
    result = evaluate(encoder, MANIFEST, workers=os.cpu_count() or 2, perturb=perturb)
    return json.loads(json.dumps(result.as_dict()), parse_float=lambda v: round(float(v), 4))


def markdown(results: dict) -> str:
    ix, base, q, ot, acc = (
        results["indexing"],
        results["plain_onnx_loop"],
        results["query"],
        results["onnx_vs_torch"],
        results["accuracy"],
    )
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
    for batch, r in ot.items():
        rows.append(
            f"| encoder, {batch.replace('_', ' ')} (ONNX Runtime) | "
            f"{r['onnxruntime_ms_per_image']} ms/img | eager PyTorch: "
            f"{r['torch_ms_per_image']} ms/img | {r['speedup']}x |"
        )
    i8 = results["int8"]
    rows.append(
        f"| encoder, batch 1, int8 static ({i8['size_mb']['int8']} MB, cosine to float "
        f"{i8['embedding_cosine_mean']}) | {i8['int8_ms_per_image']} ms/img | float: "
        f"{i8['float_ms_per_image']} ms/img | {i8['speedup']}x |"
    )
    rows += [
        "",
        f"Retrieval on the eval classes 99-196 ({acc['images']:,} images), "
        f"model `{acc['model_id']}`:",
        "",
        "| R@1 | R@2 | R@4 | R@8 | MAP@R |",
        "|---|---|---|---|---|",
        f"| {acc['recall@1']} | {acc['recall@2']} | {acc['recall@4']} | {acc['recall@8']} "
        f"| {acc['map@r']} |",
        *(
            f"| {a['recall@1']} | {a['recall@2']} | {a['recall@4']} | {a['recall@8']} "
            f"| {a['map@r']} | (`{a['model_id']}`)"
            for a in [results.get("accuracy_int8")]
            if a
        ),
        "",
        "Recall@1 of altered queries against the clean gallery (float model):",
        "",
        "| " + " | ".join(acc["perturbed_recall@1"]) + " |",
        "|" + "---|" * len(acc["perturbed_recall@1"]),
        "| " + " | ".join(str(v) for v in acc["perturbed_recall@1"].values()) + " |",
        "",
        f"Machine: {results['machine']}",
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=None, help="keep the built catalog here")
    parser.add_argument("--limit", type=int, default=None, help="index only N images (smoke run)")
    parser.add_argument("--baseline-images", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument(
        "--accuracy-from",
        type=Path,
        default=None,
        help="reuse the accuracy figures of an earlier core.json (they do not depend on load)",
    )
    args = parser.parse_args()
    model = resolve_model_path()
    with tempfile.TemporaryDirectory() as scratch:
        catalog_dir = args.catalog or Path(scratch) / "catalog"
        if (catalog_dir / "catalog.sqlite").exists():
            raise SystemExit(f"{catalog_dir} already holds a catalog; give an empty folder")
        results = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "indexing": bench_indexing(model, catalog_dir, args.limit),
            "plain_onnx_loop": bench_plain_loop(model, args.baseline_images),
            "query": bench_queries(model, catalog_dir, args.queries),
            "onnx_vs_torch": bench_onnx_vs_torch(model),
            "int8": bench_int8(model, Path(scratch)),
        }
        if args.accuracy_from:
            earlier = json.loads(args.accuracy_from.read_text())
            results["accuracy"] = earlier["accuracy"]
            results["accuracy_int8"] = earlier["accuracy_int8"]
        elif args.skip_accuracy:
            results["accuracy"] = {}
        else:
            results["accuracy"] = bench_accuracy(model, perturb=True)
            int8_path = Path(results["int8"].pop("int8_path"))
            results["accuracy_int8"] = bench_accuracy(int8_path)
        results["int8"].pop("int8_path", None)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "core.json").write_text(json.dumps(results, indent=2) + "\n")
    if results["accuracy"]:
        (RESULTS / "core.md").write_text(markdown(results))
        print(markdown(results))
    else:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
