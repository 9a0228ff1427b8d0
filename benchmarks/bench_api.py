"""Load test of the HTTP API: a real ``revsearch serve`` process on loopback.

    python benchmarks/bench_api.py --catalog DIR

Measures, in one run: single-client latency (p50/p99), a bounded concurrent load
(throughput, p50/p99, errors) and, after the server has stopped so that both get the same
CPU, the in-process ``Searcher.search`` latency on the same query images, which makes the
HTTP overhead a ratio. Writes ``benchmarks/results/api.json`` and prints a markdown table;
exits 1 if any request failed. All traffic goes to 127.0.0.1 and is bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from revsearch.catalog.catalog import Catalog
from revsearch.config import Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.search import Searcher
from revsearch.sources import collect_sources

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = ROOT.parent / "shared" / "data" / "stanford-cars" / "manifest.csv"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "api.json"
TARGET_SINGLE_P50_MS = 30.0
REQUEST_TIMEOUT_S = 60.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--catalog",
        type=Path,
        default=os.environ.get("REVSEARCH_CATALOG"),
        help="catalog folder [env REVSEARCH_CATALOG]",
    )
    parser.add_argument("--model", type=Path, default=None, help="ONNX model [env REVSEARCH_MODEL]")
    parser.add_argument(
        "--queries",
        type=Path,
        default=DEFAULT_QUERIES,
        help="folder or manifest CSV of query images [default: the Stanford Cars manifest]",
    )
    parser.add_argument("--query-count", type=int, default=64, help="distinct query images")
    parser.add_argument("--requests", type=int, default=400, help="requests of the load run")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the load run")
    parser.add_argument("--single", type=int, default=100, help="sequential single-client requests")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first")
    parser.add_argument("-k", type=int, default=6, help="results per query")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.catalog is None:
        parser.error("--catalog (or REVSEARCH_CATALOG) is required")
    return args


def load_queries(path: Path, count: int) -> list[bytes]:
    """``count`` images spread evenly over the folder or manifest (deterministic)."""
    sources = collect_sources(path)
    if not sources:
        raise SystemExit(f"no query images under {path}")
    step = max(1, len(sources) // count)
    return [Path(s.path).read_bytes() for s in sources[::step][:count]]


def percentiles(latencies_ms: Sequence[float]) -> dict[str, float]:
    values = np.asarray(latencies_ms, dtype=np.float64)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "mean_ms": round(float(values.mean()), 2),
    }


# -- the server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: argparse.Namespace, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``revsearch serve`` (the console script's entry point, run by this interpreter)."""
    command = [
        sys.executable, "-c", "from revsearch.cli import main; main()", "serve",
        "--catalog", str(args.catalog), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    if args.model:
        command += ["--model", str(args.model)]
    with open(log, "wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"server exited at startup:\n{log.read_text()[-3000:]}")
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise SystemExit(f"server not ready after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the measurements ---------------------------------------------------------------------
def single_client(url: str, queries: list[bytes], count: int, k: int) -> dict[str, object]:
    """Sequential requests on one keep-alive connection."""
    latencies, server_totals, errors = [], [], 0
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        for i in range(count):
            data = queries[i % len(queries)]
            start = time.perf_counter()
            response = client.post(
                "/api/search", files={"image": ("q.jpg", data, "image/jpeg")}, data={"k": str(k)}
            )
            latencies.append((time.perf_counter() - start) * 1e3)
            if response.status_code == 200:
                server_totals.append(response.json()["timings_ms"]["total"])
            else:
                errors += 1
    return {
        "requests": count,
        "errors": errors,
        **percentiles(latencies),
        "server_total_p50_ms": round(float(np.median(server_totals)), 2) if server_totals else None,
    }


async def _load(
    url: str, queries: list[bytes], total: int, clients: int, k: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    next_index = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors, next_index
            while next_index < total:
                data = queries[next_index % len(queries)]
                next_index += 1
                start = time.perf_counter()
                try:
                    response = await client.post(
                        "/api/search",
                        files={"image": ("q.jpg", data, "image/jpeg")},
                        data={"k": str(k)},
                    )
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - start) * 1e3)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def concurrent_load(
    url: str, queries: list[bytes], total: int, clients: int, k: int
) -> dict[str, object]:
    latencies, errors, elapsed = asyncio.run(_load(url, queries, total, clients, k))
    return {
        "clients": clients,
        "requests": total,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "throughput_rps": round(total / elapsed, 2),
        **percentiles(latencies),
    }


def in_process(
    settings: Settings, queries: list[bytes], count: int, warmup: int, k: int
) -> tuple[dict[str, object], dict[str, object]]:
    """``Searcher.search`` timed directly, with the server's settings; also catalog facts."""
    encoder = OnnxEncoder(resolve_model_path(settings.model), threads=settings.threads)
    with Catalog.open(settings.catalog, exact_search_limit=settings.exact_search_limit) as catalog:
        searcher = Searcher(catalog, encoder, limits=settings.decode_limits)
        for i in range(warmup):
            searcher.search(queries[i % len(queries)], k)
        latencies = []
        for i in range(count):
            start = time.perf_counter()
            searcher.search(queries[i % len(queries)], k)
            latencies.append((time.perf_counter() - start) * 1e3)
        stats = catalog.stats()
    facts = {key: stats[key] for key in ("images", "index_kind", "model_id")}
    return {"requests": count, **percentiles(latencies)}, facts


def markdown(result: dict) -> str:
    single, load, local = result["single_client"], result["concurrent"], result["in_process"]
    overhead = result["http_overhead"]
    catalog = result["catalog"]
    return "\n".join(
        [
            f"API benchmark: {catalog['images']} images ({catalog['index_kind']}), "
            f"{catalog['model_id']}, {result['machine']['cpus']} CPUs, k={result['settings']['k']}",
            "",
            "| measurement | requests | p50 ms | p99 ms | throughput req/s | errors |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| in-process Searcher.search | {local['requests']} | {local['p50_ms']} | "
            f"{local['p99_ms']} | | |",
            f"| HTTP, 1 client | {single['requests']} | {single['p50_ms']} | {single['p99_ms']} | "
            f"| {single['errors']} |",
            f"| HTTP, {load['clients']} clients | {load['requests']} | {load['p50_ms']} | "
            f"{load['p99_ms']} | {load['throughput_rps']} | {load['errors']} |",
            "",
            f"HTTP overhead at p50: x{overhead['p50_ratio']} ({overhead['p50_ms']} ms); "
            f"single-client p50 target <= {TARGET_SINGLE_P50_MS:g} ms: "
            f"{'met' if result['target']['met'] else 'NOT met'}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env(catalog=args.catalog, model=args.model)
    queries = load_queries(args.queries, args.query_count)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"revsearch-bench-api-{port}.log"
    url = f"http://127.0.0.1:{port}"
    process = start_server(args, port, log)
    try:
        wait_ready(url, process, log, args.startup_timeout)
        single_client(url, queries, args.warmup, args.k)  # warm-up, not recorded
        single = single_client(url, queries, args.single, args.k)
        load = concurrent_load(url, queries, args.requests, args.concurrency, args.k)
    finally:
        stop_server(process)
    local, catalog = in_process(settings, queries, args.single, args.warmup, args.k)

    result = {
        "benchmark": "api",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "catalog": {"path": str(args.catalog), **catalog},
        "settings": {
            "k": args.k,
            "threads": settings.threads,
            "query_images": len(queries),
            "warmup": args.warmup,
        },
        "in_process": local,
        "single_client": single,
        "concurrent": load,
        "http_overhead": {
            "p50_ratio": round(single["p50_ms"] / local["p50_ms"], 3),  # type: ignore[operator]
            "p50_ms": round(single["p50_ms"] - local["p50_ms"], 2),  # type: ignore[operator]
        },
        "target": {
            "single_client_p50_ms": TARGET_SINGLE_P50_MS,
            "met": single["p50_ms"] <= TARGET_SINGLE_P50_MS,  # type: ignore[operator]
        },
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    print(f"\nwrote {args.output} and {args.output.with_suffix('.md')}")
    failed = single["errors"] or load["errors"]
    if failed:
        print(f"error: {failed} requests failed; server log: {log}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
