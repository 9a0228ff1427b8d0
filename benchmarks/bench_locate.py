"""Find the car first: accuracy and query time of framed photos, with and without the localiser.

The catalog is the Stanford train split of the first 40 classes by name (about 1,650
photos); the queries are 80 test-split photos of those classes, sent as JPEG bytes through a
Searcher three ways: the tight crop itself, the car at 35 % of the width of a 2000 x 1500
street scene (revsearch.eval.framing), and a loose 70 % framing. Each query is searched by
the model with its localiser and by the same model without the head (as it was before);
accuracy is the voted class's, time is the whole Searcher.search call (the two searchers
interleaved in blocks of 10 queries, every block timed 3 times), and the ratio reported is
the median of the blocks' own p50 ratios (on / off) in this run.

    python benchmarks/bench_locate.py [--threads 1]   # about 2 minutes on 2 cores

Writes benchmarks/results/locate.json and locate.md.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from revsearch.catalog.catalog import Catalog
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.eval.framing import Framing
from revsearch.indexing import Indexer
from revsearch.search import Searcher
from revsearch.sources import read_manifest

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT.parent / "shared" / "data" / "stanford-cars" / "manifest.csv"
RESULTS = ROOT / "benchmarks" / "results"
CLASSES = 40
QUERIES = 80
BLOCK = 10  # queries timed in a row on one searcher before switching to the other
ROUNDS = 3
KINDS = {"tight": None, "frame_35": Framing(0.35), "loose_70": Framing(0.7)}


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def headless_copy(model: Path, folder: Path) -> Path:
    """The same encoder without its head: ONNX Runtime runs every node of a graph, so the
    baseline must not pay for a head it does not use."""
    import onnx

    from revsearch.training.localizer import without_localizer

    path = folder / "headless.onnx"
    onnx.save(without_localizer(onnx.load(str(model))), str(path))
    return path


def run(model: Path, folder: Path, threads: int) -> dict:
    located = OnnxEncoder(model, threads=threads)
    plain = OnnxEncoder(headless_copy(model, folder), threads=threads)
    catalog_dir = folder / "catalog"
    train = read_manifest(MANIFEST, split="stanford-train")
    wanted = sorted({str(s.class_name) for s in train})[:CLASSES]
    gallery = [s for s in train if s.class_name in wanted]
    tests = [s for s in read_manifest(MANIFEST, split="stanford-test") if s.class_name in wanted]
    queries = tests[:: max(1, len(tests) // QUERIES)][:QUERIES]
    with Catalog.open(catalog_dir, create=True) as catalog:
        Indexer(catalog, located).run(gallery)
    catalog = Catalog.open(catalog_dir)
    searchers = {"on": Searcher(catalog, located), "off": Searcher(catalog, plain)}
    rows: dict[str, dict[str, float]] = {}
    for kind, alter in KINDS.items():
        photos = []
        for source in queries:
            image = Image.open(source.path).convert("RGB")
            photos.append(jpeg(alter(image) if alter else image))
        row: dict[str, float] = {}
        right = dict.fromkeys(searchers, 0)
        cut = dict.fromkeys(searchers, 0)
        seconds: dict[str, list[float]] = {mode: [] for mode in searchers}
        # Interleaved in blocks (this machine's speed drifts over seconds), each block timed
        # ROUNDS times with the other searcher first every other time; the ratio is the
        # median of the blocks' own ratios. The first query of a block is untimed: the other
        # session's threads may still be spinning.
        block_ratios = []
        for round_ in range(ROUNDS):
            for start in range(0, len(photos), BLOCK):
                block = list(zip(photos, queries, strict=True))[start : start + BLOCK]
                order = list(searchers)[:: 1 if (start // BLOCK + round_) % 2 == 0 else -1]
                block_p50 = {}
                for mode in order:
                    searchers[mode].search(block[0][0])
                    spent = []
                    for photo, source in block:
                        began = time.perf_counter()
                        response = searchers[mode].search(photo)
                        spent.append(time.perf_counter() - began)
                        if round_ == 0:
                            right[mode] += bool(response.prediction) and (
                                response.prediction.class_name == source.class_name
                            )
                            cut[mode] += response.cropped
                    seconds[mode] += spent
                    block_p50[mode] = float(np.median(spent))
                block_ratios.append(block_p50["on"] / block_p50["off"])
        for mode in searchers:
            row[f"top1_{mode}"] = round(right[mode] / len(queries), 3)
            row[f"p50_ms_{mode}"] = round(float(np.median(seconds[mode])) * 1e3, 2)
            row[f"cropped_{mode}"] = round(cut[mode] / len(queries), 3)
        row["p50_ratio"] = round(float(np.median(block_ratios)), 2)
        rows[kind] = row
    catalog.close()
    return {
        "model_id": located.model_id,
        "catalog_images": len(gallery),
        "classes": len(wanted),
        "queries": len(queries),
        "threads": threads,
        "kinds": rows,
        "machine": platform.processor() or platform.machine(),
    }


def markdown(result: dict) -> str:
    lines = [
        "# Find the car first",
        "",
        f"Catalog: {result['catalog_images']} Stanford train-split photos of "
        f"{result['classes']} classes; {result['queries']} test-split photos as queries "
        f"(JPEG), model `{result['model_id']}`, {result['threads'] or 'all'} ONNX Runtime "
        "thread(s) (`--threads`); voted class top-1.",
        "",
        "| query | top-1, localiser off | on | cut out (on) | p50 off | p50 on "
        "| on / off (blocks) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, row in result["kinds"].items():
        lines.append(
            f"| {kind} | {row['top1_off']:.1%} | {row['top1_on']:.1%} | {row['cropped_on']:.0%} "
            f"| {row['p50_ms_off']} ms | {row['p50_ms_on']} ms | **{row['p50_ratio']}x** |"
        )
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument(
        "--threads", type=int, default=0, help="ORT threads; 0: all cores, as served"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = run(resolve_model_path(args.model), Path(folder), args.threads)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "locate.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "locate.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
