"""Same photo first: is an edited copy of a catalog photo answered with that photo on top?

The catalog is the Stanford train split of the first 25 classes (about 1,000 photos, so every
query has some 40 photos of the same car model to be confused with). Queries: 40 of those
photos, each edited 8 ways (revsearch.eval.perturb.COPY_EDITS) and re-saved as JPEG, and 40
test-split photos of the same classes that are not in the catalog (nothing may be marked the
same photo for them). Each query runs through a Searcher without the check (before) and one
with it (after); the latency is reported as the ratio of the two in this run.

    python benchmarks/bench_same_image.py       # about 3 minutes on 2 cores

Writes benchmarks/results/same_image.json and same_image.md.
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
from revsearch.config import Settings
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import resolve_model_path
from revsearch.eval.perturb import COPY_EDITS
from revsearch.indexing import Indexer
from revsearch.same_image import SAME_IMAGE_CANDIDATES
from revsearch.search import Searcher
from revsearch.sources import read_manifest
from revsearch.stores.factory import open_store

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT.parent / "shared" / "data" / "stanford-cars" / "manifest.csv"
RESULTS = ROOT / "benchmarks" / "results"
CLASSES = 25
ORIGINALS = 40
K = 6


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def timed(searcher: Searcher, query: bytes) -> tuple[list, float]:
    start = time.perf_counter()
    hits = searcher.search(query, k=K).hits
    return hits, time.perf_counter() - start


def run(model: Path, catalog_dir: Path, candidates: int = SAME_IMAGE_CANDIDATES) -> dict:
    encoder = OnnxEncoder(model, threads=1)
    train = read_manifest(MANIFEST, split="stanford-train")
    wanted = sorted({str(s.class_name) for s in train})[:CLASSES]  # by name: several makes
    gallery = [s for s in train if s.class_name in wanted]
    strangers = [s for s in read_manifest(MANIFEST, split="stanford-test")
                 if s.class_name in wanted][:: 10][:ORIGINALS]  # fmt: skip
    with Catalog.open(catalog_dir, create=True) as catalog:
        Indexer(catalog, encoder).run(gallery)
    catalog = Catalog.open(catalog_dir)
    before = Searcher(catalog, encoder)
    store = open_store(Settings(), catalog_dir)
    after = Searcher(catalog, encoder, originals=store, same_image_candidates=candidates)
    records = catalog.get(range(1, 2 * len(gallery))).values()  # ids count up from 1
    ids = {record.source: record.id for record in records}
    indexed = [s for s in gallery if str(Path(s.path).resolve()) in ids]  # not duplicates
    originals = indexed[:: len(indexed) // ORIGINALS][:ORIGINALS]

    per_edit: dict[str, dict[str, float]] = {}
    seconds = {"before": [], "after": []}
    for name, edit in COPY_EDITS.items():
        first = {"before": 0, "after": 0}
        marked = wrongly_marked = 0
        for source in originals:
            query = jpeg(edit(Image.open(source.path).convert("RGB")))
            wanted_id = ids[str(Path(source.path).resolve())]
            for label, searcher in (("before", before), ("after", after)):
                hits, spent = timed(searcher, query)
                seconds[label].append(spent)
                first[label] += hits[0].record.id == wanted_id
                if label == "after":
                    marked += any(h.same_image and h.record.id == wanted_id for h in hits)
                    wrongly_marked += sum(h.same_image and h.record.id != wanted_id for h in hits)
        per_edit[name] = {
            "original_first_before": first["before"] / len(originals),
            "original_first_after": first["after"] / len(originals),
            "marked_same_image": marked / len(originals),
            "other_photos_marked": wrongly_marked,
        }
    strangers_marked = sum(
        any(h.same_image for h in timed(after, Path(s.path).read_bytes())[0]) for s in strangers
    )
    mean = {label: float(np.mean(values)) * 1e3 for label, values in seconds.items()}
    catalog.close()
    return {
        "model_id": encoder.model_id,
        "catalog_images": len(gallery),
        "classes": len(wanted),
        "queries_per_edit": len(originals),
        "k": K,
        "same_image_candidates": after.same_image_candidates,
        "edits": per_edit,
        "new_photos": len(strangers),
        "new_photos_marked_same_image": strangers_marked,
        "mean_query_ms_before": round(mean["before"], 1),
        "mean_query_ms_after": round(mean["after"], 1),
        "latency_ratio_after_before": round(mean["after"] / mean["before"], 2),
        "machine": platform.processor() or platform.machine(),
    }


def markdown(result: dict) -> str:
    lines = [
        "# Same photo first",
        "",
        f"Catalog: {result['catalog_images']} Stanford train-split photos of "
        f"{result['classes']} classes; {result['queries_per_edit']} of them edited each way "
        f"and re-saved as JPEG; top {result['k']} results; model `{result['model_id']}`; "
        f"{result['same_image_candidates']} best results checked.",
        "",
        "| edit | original first, before | after | marked same photo | other photos marked |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["edits"].items():
        lines.append(
            f"| {name} | {row['original_first_before']:.0%} | {row['original_first_after']:.0%} "
            f"| {row['marked_same_image']:.0%} | {row['other_photos_marked']} |"
        )
    lines += [
        "",
        f"New photos (test split, not in the catalog) marked as a catalog photo: "
        f"{result['new_photos_marked_same_image']} of {result['new_photos']}.",
        "",
        f"Query latency with the check / without, same run: "
        f"**{result['latency_ratio_after_before']}x** ({result['mean_query_ms_after']} ms and "
        f"{result['mean_query_ms_before']} ms on this machine).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument(
        "--candidates", type=int, default=SAME_IMAGE_CANDIDATES,
        help="best results checked (REVSEARCH_SAME_IMAGE_CANDIDATES)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=RESULTS / "same_image.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = run(resolve_model_path(args.model), Path(folder) / "catalog", args.candidates)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
