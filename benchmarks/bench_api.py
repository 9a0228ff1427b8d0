"""Load test of the HTTP API: a real ``revsearch serve`` process on loopback.

    python benchmarks/bench_api.py --catalog DIR

Measures, in one run: the in-process ``Searcher.search`` latency (the server's own query
path, same-photo check included) with the time spent inside the model counted per query,
which makes the query path's overhead over the bare encoder a ratio; per server set-up
(ONNX Runtime threads x uvicorn processes), single-client latency (p50/p99) and a bounded
concurrent load (throughput, p50/p99, errors); the default set-up's single-client p50 is
also given as a ratio to the bare encoder. The server runs are done first, the in-process
one after they stop, so each gets the CPU alone. Writes ``benchmarks/results/api.json`` and
a markdown table; exits 1 if any request failed. All traffic goes to 127.0.0.1 and is
bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from machine import describe

from revsearch.config import Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.runtime import QueryRuntime
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
    parser.add_argument(
        "--setups", default="2x1,1x1,1x2",
        help="server set-ups to load, THREADSxPROCESSES each (ONNX Runtime intra-op threads "
        "per search x uvicorn processes); the first is the default's",
    )  # fmt: skip
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


def start_server(
    args: argparse.Namespace, port: int, log: Path, threads: int, processes: int
) -> subprocess.Popen[bytes]:
    """``revsearch serve`` (the console script's entry point, run by this interpreter)."""
    command = [
        sys.executable, "-c", "from revsearch.cli import main; main()", "serve",
        "--catalog", str(args.catalog), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(processes),
    ]  # fmt: skip
    if args.model:
        command += ["--model", str(args.model)]
    env = {**os.environ, "REVSEARCH_THREADS": str(threads)}
    with open(log, "wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)


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
    """The server's own query path (``QueryRuntime``: same-photo check included) timed
    directly, then the same without the check; the time inside the model's ONNX Runtime
    runs is counted for each query."""
    with QueryRuntime.open(settings) as runtime:
        model_seconds = count_model_time(runtime.encoder)
        unchecked = Searcher(runtime.catalog, runtime.encoder, limits=runtime.searcher.limits)
        local = {}
        for name, searcher in (("served", runtime.searcher), ("no_same_image", unchecked)):
            for i in range(warmup):
                searcher.search(queries[i % len(queries)], k)
            totals, models = [], []
            stages: dict[str, list[float]] = {}
            for i in range(count):
                model_seconds[0] = 0.0
                start = time.perf_counter()
                response = searcher.search(queries[i % len(queries)], k)
                totals.append((time.perf_counter() - start) * 1e3)
                models.append(model_seconds[0] * 1e3)
                for stage, spent in response.timings_ms.items():
                    stages.setdefault(stage, []).append(spent)
            local[name] = {
                "requests": count,
                **percentiles(totals),
                "model_p50_ms": round(float(np.median(models)), 2),
                "stage_p50_ms": {
                    stage: round(float(np.median(v)), 2) for stage, v in stages.items()
                },
            }
        stats = runtime.catalog.stats()
    facts = {key: stats[key] for key in ("images", "index_kind", "model_id")}  # type: ignore[literal-required]
    return local, facts


def count_model_time(encoder: OnnxEncoder) -> list[float]:
    """Wrap the encoder's two model calls so the seconds they take add up in the list's
    only item (the bare encoder: what the query path costs beyond it is overhead)."""
    spent = [0.0]

    def timed(run: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
        def wrapper(batch: np.ndarray) -> np.ndarray:
            start = time.perf_counter()
            try:
                return run(batch)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    encoder.encode_arrays = timed(encoder.encode_arrays)  # type: ignore[method-assign]
    encoder.locate_arrays = timed(encoder.locate_arrays)  # type: ignore[method-assign]
    return spent


def serve_and_load(
    args: argparse.Namespace, queries: list[bytes], threads: int, processes: int
) -> dict[str, object]:
    """One server set-up: start it, warm it, one client, then the concurrent load."""
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"revsearch-bench-api-{port}.log"
    url = f"http://127.0.0.1:{port}"
    process = start_server(args, port, log, threads, processes)
    try:
        wait_ready(url, process, log, args.startup_timeout)
        single_client(url, queries, args.warmup * processes, args.k)  # warm-up, not recorded
        single = single_client(url, queries, args.single, args.k)
        load = concurrent_load(url, queries, args.requests, args.concurrency, args.k)
    finally:
        stop_server(process)
    failed = int(single["errors"]) + int(load["errors"])  # type: ignore[call-overload]
    if failed:
        print(f"error: {failed} requests failed; server log: {log}", file=sys.stderr)
    return {"threads": threads, "processes": processes, "single_client": single, "concurrent": load}


def parse_setups(text: str) -> list[tuple[int, int]]:
    try:
        setups = [tuple(int(v) for v in item.split("x")) for item in text.split(",")]
    except ValueError:
        raise SystemExit(f"--setups: expected THREADSxPROCESSES,..., got {text!r}") from None
    if not setups or any(len(s) != 2 or min(s) < 1 for s in setups):
        raise SystemExit(f"--setups: expected THREADSxPROCESSES,..., got {text!r}")
    return setups  # type: ignore[return-value]


def markdown(result: dict) -> str:
    local, catalog, ratios = result["in_process"], result["catalog"], result["ratios"]
    served, unchecked = local["served"], local["no_same_image"]
    single = result["setups"][0]["single_client"]
    machine = result["machine"]

    def stages(row: dict) -> str:
        return ", ".join(f"{name} {ms}" for name, ms in row["stage_p50_ms"].items())

    lines = [
        f"API benchmark: {catalog['images']} images ({catalog['index_kind']}), "
        f"{catalog['model_id']}, {machine['cpu']} ({machine['cpus']} CPUs; "
        f"{' '.join(machine['cpu_flags'])}), k={result['settings']['k']}",
        "",
        "Against the bare encoder: the model's own ONNX Runtime runs (localiser pass and "
        "embedding pass) for the same queries, counted inside the in-process searches of this run "
        f"({local['threads']} threads).",
        "",
        "| measurement | requests | p50 ms | p99 ms | p50 / bare encoder |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| bare encoder | {served['requests']} | {served['model_p50_ms']} | | 1.00 |",
        f"| in-process Searcher.search, as served | {served['requests']} | {served['p50_ms']} | "
        f"{served['p99_ms']} | {ratios['in_process']} |",
        f"| bare encoder, searches without the same-photo check | {unchecked['requests']} | "
        f"{unchecked['model_p50_ms']} | | 1.00 |",
        f"| in-process, without the check | {unchecked['requests']} | "
        f"{unchecked['p50_ms']} | {unchecked['p99_ms']} | {ratios['in_process_no_same_image']} |",
        f"| HTTP, 1 client | {single['requests']} | {single['p50_ms']} | {single['p99_ms']} | "
        f"{ratios['http']} |",
        "",
        f"In-process stages, p50 ms: as served: {stages(served)}; without the check: "
        f"{stages(unchecked)}.",
        "",
        "Server set-ups: ONNX Runtime threads per search x uvicorn processes.",
        "",
        "| set-up | 1 client p50 ms | p99 ms | clients | req/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for setup in result["setups"]:
        one, load = setup["single_client"], setup["concurrent"]
        lines.append(
            f"| {setup['threads']} x {setup['processes']} | {one['p50_ms']} | {one['p99_ms']} "
            f"| {load['clients']} | {load['throughput_rps']} | {load['p50_ms']} | "
            f"{load['p99_ms']} | {one['errors'] + load['errors']} |"
        )
    lines += [
        "",
        f"Single-client p50 target <= {TARGET_SINGLE_P50_MS:g} ms: "
        f"{'met' if result['target']['met'] else 'NOT met'}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setups = parse_setups(args.setups)
    queries = load_queries(args.queries, args.query_count)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    served = [serve_and_load(args, queries, threads, processes) for threads, processes in setups]
    threads = setups[0][0]
    settings = Settings.from_env(catalog=args.catalog, model=args.model, threads=threads)
    local, catalog = in_process(settings, queries, args.single, args.warmup, args.k)
    local["threads"] = threads
    single = served[0]["single_client"]
    bare, served_p50 = local["served"]["model_p50_ms"], local["served"]["p50_ms"]
    result = {
        "benchmark": "api",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "catalog": {"path": str(args.catalog), **catalog},
        "settings": {"k": args.k, "query_images": len(queries), "warmup": args.warmup},
        "in_process": local,
        "setups": served,
        "ratios": {
            "in_process": round(served_p50 / bare, 2),
            "in_process_no_same_image": round(
                local["no_same_image"]["p50_ms"] / local["no_same_image"]["model_p50_ms"], 2
            ),
            "http": round(single["p50_ms"] / bare, 2),
        },
        "target": {
            "single_client_p50_ms": TARGET_SINGLE_P50_MS,
            "met": single["p50_ms"] <= TARGET_SINGLE_P50_MS,
        },
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result) + "\n")
    print(markdown(result))
    print(f"\nwrote {args.output} and {args.output.with_suffix('.md')}")
    failed = sum(int(s["single_client"]["errors"]) + int(s["concurrent"]["errors"]) for s in served)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
