"""ANN benchmark: the embedded HNSW index (usearch) and Milvus (a milvus-lite server), side by
side, at catalog sizes from 10k to 1M vectors of the encoder's embedding dimension.

Data. The base set is the real embeddings of a catalog (read with ``CatalogDB.vectors``;
``--catalog``, e.g. the 16,185-image one bench_core.py builds) minus the held-out queries,
topped up with synthetic vectors of the same distribution: a random real vector plus Gaussian
noise shaped by the real data's covariance (its top principal components plus the per-dimension
residual spread), renormalised. The noise scale is calibrated so that the median cosine between
a synthetic vector and its real parent equals the median cosine between a real vector and its
nearest real neighbour: every real car gets a cloud of look-alikes as close as real look-alikes
are. Queries are held-out real vectors (never in the base set). Ground truth is exact search
(BLAS) over the whole base set.

Measured for each size and index, one after the other in the same run: build time, memory
per vector (the index's own size and the process RSS growth), and for a sweep of the search
setting (usearch ``expansion_search``, Milvus ``ef`` / ``nprobe``) Recall@10 against exact
search and queries per second on one thread; the cheapest setting that reaches Recall@10 >=
0.95 is then timed with 2 threads (usearch batch search, threads=2) or 2 concurrent clients
(Milvus). The baseline in the same run is exact brute-force search on the same cores.

    python benchmarks/bench_ann.py                           # 10k, 100k, 1M (the lead's run)
    python benchmarks/bench_ann.py --sizes 10000,50000       # a quick check
    python benchmarks/bench_ann.py --skip-milvus             # usearch only

Writes benchmarks/results/ann.json and ann.md (``--output`` changes the name).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from usearch.index import MetricKind
from usearch.index import search as brute_force

from revsearch.catalog.db import CatalogDB
from revsearch.index.hnsw import HnswIndex

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_RECALL = 0.95
K = 10
EF_SWEEP = (16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 384, 512, 768)
NPROBE_SWEEP = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
PCA_RANK = 128
CHUNK = 50_000


# -- data ---------------------------------------------------------------------------------
def real_vectors(catalog: Path) -> np.ndarray:
    """The catalog's vectors, read from a private copy (opening a catalog may migrate it)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("catalog.sqlite", "catalog.sqlite-wal"):
            if (catalog / name).is_file():
                shutil.copy(catalog / name, Path(tmp) / name)
        db = CatalogDB(Path(tmp) / "catalog.sqlite")
        try:
            model_id, dim = db.get_meta("model_id") or "", int(db.get_meta("embedding_dim") or 0)
            _, matrix = db.vectors(model_id, dim)
        finally:
            db.close()
    return np.ascontiguousarray(matrix, dtype=np.float32)


class Synthesizer:
    """Real vector + covariance-shaped noise, renormalised, with the noise scale calibrated
    to real nearest-neighbour similarity (see the module docstring)."""

    def __init__(self, real: np.ndarray, rng: np.random.Generator) -> None:
        self.real, self.rng = real, rng
        sample = real[rng.choice(len(real), min(len(real), 8000), replace=False)]
        centred = sample - sample.mean(axis=0)
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        self.components = vt[:PCA_RANK] * (singular[:PCA_RANK, None] / np.sqrt(len(sample) - 1))
        residual = centred - (centred @ vt[:PCA_RANK].T) @ vt[:PCA_RANK]
        self.residual_std = residual.std(axis=0)
        self.target = self._real_neighbour_cosine()
        self.scale = self._calibrate()

    def _real_neighbour_cosine(self) -> float:
        probe = self.rng.choice(len(self.real), min(2000, len(self.real)), replace=False)
        scores = self.real[probe] @ self.real.T
        scores[np.arange(len(probe)), probe] = -2.0  # not itself
        return float(np.median(scores.max(axis=1)))

    def _noisy(self, parents: np.ndarray, scale: float) -> np.ndarray:
        n, dim = len(parents), self.real.shape[1]
        noise = self.rng.standard_normal((n, PCA_RANK), dtype=np.float32) @ self.components
        noise += self.rng.standard_normal((n, dim), dtype=np.float32) * self.residual_std
        out = self.real[parents] + scale * noise
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.astype(np.float32)

    def _calibrate(self) -> float:
        parents = self.rng.integers(0, len(self.real), 2000)
        low, high = 0.0, 4.0
        for _ in range(30):
            mid = (low + high) / 2
            cosine = np.median(np.sum(self._noisy(parents, mid) * self.real[parents], axis=1))
            low, high = (mid, high) if cosine > self.target else (low, mid)
        return (low + high) / 2

    def fill(self, out: np.ndarray) -> None:
        for start in range(0, len(out), CHUNK):
            stop = min(start + CHUNK, len(out))
            out[start:stop] = self._noisy(
                self.rng.integers(0, len(self.real), stop - start), self.scale
            )


def base_set(
    real: np.ndarray, synth: Synthesizer, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` vectors: real ones first (all of them once size allows), then synthetic."""
    base = np.empty((size, real.shape[1]), dtype=np.float32)
    take = min(size, len(real))
    base[:take] = real[rng.permutation(len(real))[:take]]
    if size > take:
        synth.fill(base[take:])
    return base


def ground_truth(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-K ids per query, by blocked matrix products."""
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(base), CHUNK * 2):
        scores = queries @ base[start : start + CHUNK * 2].T
        part = np.argpartition(-scores, K, axis=1)[:, :K]
        best_ids = np.hstack([best_ids, part + start])
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, part, axis=1)])
        keep = np.argsort(-best_scores, axis=1)[:, :K]
        best_ids = np.take_along_axis(best_ids, keep, axis=1)
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
    return best_ids


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(
        len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)
    )
    return hits / truth.size


# -- measuring helpers --------------------------------------------------------------------
def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sweep(
    settings: tuple[int, ...], run: Callable[[int], np.ndarray], truth: np.ndarray
) -> tuple[list[dict], dict | None]:
    """Try settings from cheap to expensive; stop at the first with Recall@10 >= target."""
    points = []
    for setting in settings:
        start = time.perf_counter()
        found = run(setting)
        seconds = time.perf_counter() - start
        point = {
            "setting": setting,
            "recall": round(recall(found, truth), 4),
            "qps_1": round(len(truth) / seconds, 1),
        }
        points.append(point)
        print(
            f"    {setting:>4}: recall {point['recall']:.4f}  {point['qps_1']:>9.1f} q/s",
            flush=True,
        )
        if point["recall"] >= TARGET_RECALL:
            return points, point
    return points, None


# -- exact baseline -----------------------------------------------------------------------
def bench_exact(base: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    """Brute force on the same cores: usearch's exact SIMD kernel, as the embedded backend."""
    result = {}
    for threads in (1, 2):
        n = len(queries) if len(base) <= 100_000 else min(len(queries), 200)
        seconds = timed(
            lambda t=threads, n=n: brute_force(
                base, queries[:n], K, MetricKind.Cos, exact=True, threads=t
            )
        )
        result[f"qps_{threads}"] = round(n / seconds, 1)
    matches = brute_force(base, queries[:200], K, MetricKind.Cos, exact=True, threads=2)
    result["recall"] = round(recall(np.asarray(matches.keys, dtype=np.int64), truth[:200]), 4)
    return result


# -- usearch --------------------------------------------------------------------------------
def bench_usearch(
    dtype: str, connectivity: int, base: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> dict:
    gc.collect()
    rss_before = rss_bytes()
    index = HnswIndex(base.shape[1], dtype=dtype, connectivity=connectivity)
    raw = index._index  # the wrapped usearch Index: its batch search is what is measured here

    def add_all() -> None:  # in chunks: usearch's quantised copy of 1M vectors at once is GBs
        for start in range(0, len(base), CHUNK):  # the catalog's own add: one thread (hnsw.py)
            keys = np.arange(start, min(start + CHUNK, len(base)), dtype=np.uint64)
            index.add(keys, base[start : start + CHUNK])

    build = timed(add_all)
    rss_growth = rss_bytes() - rss_before

    def run(ef: int, threads: int = 1) -> np.ndarray:
        raw.expansion_search = ef
        return np.asarray(raw.search(queries, K, threads=threads).keys, dtype=np.int64)

    name = f"usearch HNSW {dtype}, M={connectivity}"
    print(f"  {name}: built in {build:.1f} s", flush=True)
    points, best = sweep(EF_SWEEP, run, truth)
    result = {
        "index": name, "build_s": round(build, 1),
        "bytes_per_vector": round(raw.serialized_length / len(base)),  # vectors + graph
        "rss_bytes_per_vector": round(rss_growth / len(base)),
        "sweep": points, "setting_name": "expansion_search",
    }  # fmt: skip
    if best:
        seconds = timed(lambda: run(best["setting"], threads=2))
        result.update(best, qps_2=round(len(queries) / seconds, 1))
    return result  # the index is freed with this frame


# -- Milvus ---------------------------------------------------------------------------------
@contextmanager
def milvus_lite(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A milvus-lite server on a free loopback port, stopped at the end."""
    import socket

    from pymilvus import MilvusClient

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    launcher = Path(sys.executable).parent / "milvus-lite"
    command = [
        str(launcher if launcher.is_file() else "milvus-lite"), "server",
        "--data-dir", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    log = open(folder / "milvus.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client = MilvusClient(uri=uri, timeout=2, dedicated=True)
                client.list_collections(timeout=2)
                client.close()
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((folder / "milvus.log").read_text()[-2000:]) from None
                time.sleep(0.3)
        yield uri, process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def bench_milvus(
    kind: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray, folder: Path
) -> dict:
    from pymilvus import DataType, MilvusClient

    from revsearch.index.milvus import HNSW_EF_CONSTRUCTION, HNSW_M

    nlist = int(4 * np.sqrt(len(base)))
    params = (
        {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        if kind == "HNSW"
        else {"nlist": nlist}
    )
    with milvus_lite(folder) as (uri, server):
        client = MilvusClient(uri=uri, timeout=3600, dedicated=True)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=base.shape[1])
        index = MilvusClient.prepare_index_params()
        index.add_index(field_name="vector", index_type=kind, metric_type="COSINE", params=params)
        client.create_collection(
            "bench", schema=schema, index_params=index, consistency_level="Strong"
        )
        rss_before = rss_bytes(server.pid)
        start = time.perf_counter()
        for lo in range(0, len(base), 2000):
            rows = [{"id": i, "vector": base[i]} for i in range(lo, min(lo + 2000, len(base)))]
            client.insert("bench", rows)
        inserted = time.perf_counter()
        # Flushed segments are indexed in the background and searched brute-force meanwhile:
        # a release + load builds every segment's index before we time anything.
        client.flush("bench")
        client.release_collection("bench")
        client.load_collection("bench")
        build = time.perf_counter() - start
        rss_growth = rss_bytes(server.pid) - rss_before
        disk = sum(f.stat().st_size for f in (folder / "data").rglob("*") if f.is_file())
        print(
            f"  Milvus {kind}: inserted in {inserted - start:.1f} s, "
            f"indexed in {build - (inserted - start):.1f} s",
            flush=True,
        )
        key = "ef" if kind == "HNSW" else "nprobe"

        def run(setting: int, clients: int = 1) -> np.ndarray:
            found = np.full((len(queries), K), -1, dtype=np.int64)
            search_params = {
                "metric_type": "COSINE",
                "params": {key: max(setting, K) if key == "ef" else setting},
            }

            def worker(part: range) -> None:
                own = MilvusClient(uri=uri, timeout=60, dedicated=True)
                for q in part:  # one query per call, as the app sends them
                    (hits,) = own.search(
                        "bench", [queries[q]], limit=K, search_params=search_params
                    )
                    found[q, : len(hits)] = [hit["id"] for hit in hits]
                own.close()

            threads = [
                threading.Thread(target=worker, args=(range(c, len(queries), clients),))
                for c in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return found

        settings = EF_SWEEP if kind == "HNSW" else tuple(p for p in NPROBE_SWEEP if p <= nlist)
        points, best = sweep(settings, run, truth)
        result = {
            "index": f"Milvus {kind}" + ("" if kind == "HNSW" else f" (nlist {nlist})"),
            "queries": len(queries),
            # Brute force would find everything at the cheapest setting too: a recall below 1
            # there shows the ANN index is what answered (milvus-lite falls back silently).
            "index_used": points[0]["recall"] < 0.999,
            "build_s": round(build, 1), "insert_s": round(inserted - start, 1),
            "bytes_per_vector": round(disk / len(base)),
            "rss_bytes_per_vector": round(rss_growth / len(base)),
            "sweep": points, "setting_name": key,
        }  # fmt: skip
        if best:
            seconds = timed(lambda: run(best["setting"], clients=2))
            result.update(best, qps_2=round(len(queries) / seconds, 1))
        client.close()
    shutil.rmtree(folder / "data", ignore_errors=True)
    return result


# -- report ---------------------------------------------------------------------------------
def markdown(report: dict) -> str:
    lines = [
        f"ANN search, Recall@10 >= {TARGET_RECALL} against exact search; "
        f"{report['dim']}-d vectors ({report['method']}); {report['queries']} held-out real "
        f"queries; {report['machine']}.",
        "",
        "| vectors | index | build | bytes/vector (index / RSS) | setting for R@10 >= 0.95 "
        "| Recall@10 | QPS 1 thread | QPS 2 threads | vs exact (2 threads) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in report["sizes"]:
        exact = size["exact"]
        lines.append(
            f"| {size['vectors']:,} | exact (baseline) | | {4 * report['dim']:,} | | "
            f"{exact['recall']} | {exact['qps_1']:,} | {exact['qps_2']:,} | 1.00x |"
        )
        if "milvus_skipped" in size:
            lines.append(f"| {size['vectors']:,} | Milvus | not run: {size['milvus_skipped']} |")
        for r in size["indexes"]:
            setting = f"{r['setting_name']} {r['setting']}" if "setting" in r else "not reached"
            qps2 = r.get("qps_2")
            ratio = f"{qps2 / exact['qps_2']:.1f}x" if qps2 else ""
            lines.append(
                f"| {size['vectors']:,} | {r['index']} | {r['build_s']} s | "
                f"{r['bytes_per_vector']:,} / {r['rss_bytes_per_vector']:,} | {setting} | "
                f"{r.get('recall', max(p['recall'] for p in r['sweep']))} | "
                f"{r.get('qps_1', '')} | {qps2 or ''} | {ratio} |"
            )
    lines += [
        "",
        "Milvus is milvus-lite (a Python server with FAISS indexes per segment) on the same "
        f"machine, timed on the first {report['milvus_queries']} queries; its QPS counts one "
        "query per gRPC call, as the app sends them. usearch QPS is "
        "its batch search (no Python per query). Milvus bytes/vector is its data folder on "
        "disk; RSS is the server's growth.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--catalog",
        type=Path,
        required=True,
        help="a built catalog whose vectors seed the data (e.g. bench_core.py --catalog DIR)",
    )
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dtypes", default="f32,f16", help="usearch storage: f32, f16, i8")
    parser.add_argument("--connectivity", default="16", help="usearch HNSW M values")
    parser.add_argument("--milvus-indexes", default="HNSW,IVF_FLAT")
    parser.add_argument("--milvus-max-size", type=int, default=100_000)
    parser.add_argument("--milvus-queries", type=int, default=300)
    parser.add_argument("--skip-milvus", action="store_true")
    parser.add_argument("--output", default="ann", help="results name: benchmarks/results/NAME.*")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    real = real_vectors(args.catalog)
    order = rng.permutation(len(real))
    queries, real = real[order[: args.queries]], real[order[args.queries :]]
    synth = Synthesizer(real, rng)
    print(
        f"{len(real)} real base vectors, {len(queries)} queries; synthetic noise scale "
        f"{synth.scale:.3f} (parent cosine = real NN cosine {synth.target:.3f})",
        flush=True,
    )

    report = {
        "dim": real.shape[1], "queries": len(queries), "k": K, "target_recall": TARGET_RECALL,
        "method": f"{len(real):,} real + synthetic (real + rank-{PCA_RANK} covariance noise, "
                  f"parent cosine {synth.target:.3f})",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "milvus_queries": args.milvus_queries, "sizes": [],
    }  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size:,} vectors", flush=True)
        base = base_set(real, synth, size, rng)
        truth = ground_truth(base, queries)
        entry = {"vectors": size, "exact": bench_exact(base, queries, truth), "indexes": []}
        print(f"  exact: {entry['exact']}", flush=True)
        for dtype in filter(None, args.dtypes.split(",")):
            for connectivity in map(int, args.connectivity.split(",")):
                entry["indexes"].append(bench_usearch(dtype, connectivity, base, queries, truth))
                gc.collect()
        if not args.skip_milvus and size <= args.milvus_max_size:
            few = slice(0, args.milvus_queries)  # milvus-lite is slow per query (see notes)
            for kind in args.milvus_indexes.split(","):
                with tempfile.TemporaryDirectory(prefix="bench-milvus-") as tmp:
                    result = bench_milvus(kind, base, queries[few], truth[few], Path(tmp))
                    entry["indexes"].append(result)
        elif not args.skip_milvus:
            entry["milvus_skipped"] = (
                f"over --milvus-max-size {args.milvus_max_size:,}: milvus-lite holds rows as "
                "Python objects and scans them per query (see docs/scaling.md)"
            )
        report["sizes"].append(entry)
        del base, truth
        gc.collect()
        RESULTS.mkdir(parents=True, exist_ok=True)  # written after every size: partial runs count
        (RESULTS / f"{args.output}.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / f"{args.output}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
