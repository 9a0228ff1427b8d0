"""Ray benchmark: indexing throughput of `--engine ray` with 1, 2 and 4 actors against the
single-process indexer, on the same images in the same run.

Ray listens on the machine's routable address, so this script re-executes itself inside a
loopback-only network namespace (``unshare``, as root) unless it already runs in one.
Run from the project root:

    python benchmarks/bench_ray.py                 # 2,000 images, about 2 minutes on 2 cores
    python benchmarks/bench_ray.py --images 300    # smoke run

Writes benchmarks/results/ray.json and ray.md. Every engine indexes the same files into a
fresh catalog (decode + encode + commit; the vector index build is not timed). The local
Ray instance is started once and its start-up reported apart. A Ray run also starts its
actor pool (a process and a model load per actor), a fixed cost that hides how speed grows
with workers, so each engine also indexes a short run of 64 images first: the marginal
speed (N - 64) / (t_N - t_64) leaves that fixed cost out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from revsearch.catalog.catalog import Catalog
from revsearch.distributed.cluster import ray_session
from revsearch.distributed.ray_indexing import CPUS_PER_ACTOR, RayIndexer
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.indexing import Indexer
from revsearch.sources import ImageSource, read_manifest

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT.parent / "shared" / "data" / "stanford-cars" / "manifest.csv"
RESULTS = ROOT / "benchmarks" / "results"
SHORT_RUN = 64  # images in the run that measures the fixed start-up cost
ISOLATE = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child"]


def loopback_only() -> bool:
    """True inside a network namespace whose only interface is loopback."""
    return all(name == "lo" for _, name in socket.if_nameindex())


def reexec_isolated() -> None:
    """Replace this process with itself inside a fresh loopback-only network namespace."""
    if shutil.which("unshare") is None:
        raise SystemExit("unshare is missing: run this as root on Linux (util-linux)")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    script = 'ip link set lo up && exec "$0" "$@"'
    os.execvp(ISOLATE[0], [*ISOLATE, "sh", "-c", script, sys.executable, *sys.argv])


def timed(
    make: type[Indexer], sources: list[ImageSource], catalog: Path, **options: object
) -> float:
    """Seconds to index ``sources`` into a fresh catalog; checks that every one got in."""
    encoder = OnnxEncoder(resolve_model_path(), threads=1)
    with Catalog.open(catalog, create=True) as opened:
        indexer = make(opened, encoder, **options)
        start = time.perf_counter()
        report = indexer.run(sources)
        seconds = time.perf_counter() - start
    assert not report.failed and report.added + report.duplicates == len(sources), report
    return seconds


def bench_engine(
    name: str, make: type[Indexer], sources: list[ImageSource], scratch: Path, **options: object
) -> dict:
    short = timed(make, sources[:SHORT_RUN], scratch / f"{name}-short", **options)
    full = timed(make, sources, scratch / name, **options)
    return {
        "engine": name,
        "workers": options["workers"],
        "seconds": round(full, 2),
        "images_per_s": round(len(sources) / full, 1),
        "short_run_seconds": round(short, 2),
        "marginal_images_per_s": round((len(sources) - SHORT_RUN) / max(full - short, 1e-9), 1),
    }


def markdown(results: dict) -> str:
    lines = [
        f"Indexing {results['images']:,} Stanford Cars images (decode + encode + commit) with "
        f"`{results['model_id']}` on {results['machine']}; Ray {results['ray_version']}, "
        f"{results['cpus_per_actor']} CPU per actor; the local Ray instance started in "
        f"{results['ray_start_seconds']} s (once, not in the rows).",
        "",
        "| engine | workers | seconds | images/s | ratio | 64-image run | marginal images/s "
        "| marginal ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["runs"]:
        lines.append(
            f"| {row['engine']} | {row['workers']} | {row['seconds']} | {row['images_per_s']} "
            f"| {row['ratio']:.2f}x | {row['short_run_seconds']} s "
            f"| {row['marginal_images_per_s']} | {row['marginal_ratio']:.2f}x |"
        )
    lines += [
        "",
        "Ratios are to the single-process indexer in the same run. Ray rows include starting "
        "the actor pool; the marginal speed, (N - 64) / (t_N - t_64), leaves out that fixed "
        "cost, which a real cluster pays once per run.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4", help="Ray actor counts, comma-separated")
    args = parser.parse_args()
    if args.images <= 2 * SHORT_RUN:
        parser.error(f"--images must be over {2 * SHORT_RUN}")
    if not loopback_only():
        reexec_isolated()
    sources = read_manifest(MANIFEST, limit=args.images)
    for source in sources:  # warm the page cache, so no engine pays for the first read
        Path(source.path).read_bytes()
    cores = os.cpu_count() or 1
    actor_counts = [int(w) for w in args.workers.split(",")]
    # Enough logical CPUs for the largest pool, as RayIndexer asks of its own local instance.
    ray_cpus = max(cores, math.ceil(max(actor_counts) * CPUS_PER_ACTOR))
    with tempfile.TemporaryDirectory() as scratch:
        # The baseline first, while no Ray process is running to take CPU from it.
        runs = [bench_engine("single-process", Indexer, sources, Path(scratch), workers=cores)]
        started = time.perf_counter()
        with ray_session("local", num_cpus=ray_cpus) as ray:
            ray_start = time.perf_counter() - started
            for workers in actor_counts:
                runs.append(
                    bench_engine(
                        f"ray-{workers}", RayIndexer, sources, Path(scratch), workers=workers
                    )
                )
    baseline = runs[0]
    for row in runs:
        row["ratio"] = round(row["images_per_s"] / baseline["images_per_s"], 3)
        row["marginal_ratio"] = round(
            row["marginal_images_per_s"] / baseline["marginal_images_per_s"], 3
        )
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {cores} cores",
        "images": len(sources),
        "model_id": OnnxEncoder(resolve_model_path(), threads=1).model_id,
        "ray_version": ray.__version__,
        "cpus_per_actor": CPUS_PER_ACTOR,
        "ray_start_seconds": round(ray_start, 2),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ray.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "ray.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
