"""Encoder benchmark: the shipped retrieval-trained model (float and int8) against the
ImageNet EfficientNet-Lite0 baseline, speed and accuracy, all measured in the same run.

    python benchmarks/bench_encoder.py              # speed + accuracy (~10 minutes on 2 cores)
    python benchmarks/bench_encoder.py --skip-accuracy

Speed: ms per image at batch 1 on 2 ONNX Runtime threads, the models timed in interleaved
rounds so load changes hit all of them alike, reported by medians; eager PyTorch on the
baseline for reference.
Accuracy: `revsearch eval --perturb` on the eval classes 99-196.
Writes benchmarks/results/encoder.json and encoder.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe

from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import (
    DEFAULT_PRETRAINED,
    default_export_path,
    get_pretrained,
    shipped_float_model,
    shipped_int8_model,
)
from revsearch.encoder.spec import METADATA_KEY, ModelSpec
from revsearch.eval.runner import EvalOptions, evaluate
from revsearch.localize import LOCALIZER_SWITCH
from revsearch.preprocess import prepare
from revsearch.sources import sha256_file

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT.parent / "shared" / "data" / "stanford-cars" / "manifest.csv"
RESULTS = ROOT / "benchmarks" / "results"


def baseline_model(scratch: Path) -> Path:
    path = default_export_path()
    if path.is_file():
        return path
    from revsearch.encoder.export import export_pretrained

    path = scratch / f"{DEFAULT_PRETRAINED}.onnx"
    export_pretrained(get_pretrained(DEFAULT_PRETRAINED), path)
    return path


def speeds(models: dict[str, Path], rounds: int = 41, per_round: int = 30) -> dict[str, dict]:
    """Medians, of the rounds and of each round's ratio to the baseline: a few rounds slowed
    by other load on a shared machine moved a mean by 10-30 % here, a median much less."""
    encoders = {name: OnnxEncoder(path, threads=2) for name, path in models.items()}
    images = sorted((MANIFEST.parent / "images" / "test").glob("*.jpg"))[:per_round]
    # Each model at its own input size (Lite0 224 px, Lite1 240 px): decoding is not timed.
    arrays = {
        name: [prepare(p, encoder.transform)[None] for p in images]
        for name, encoder in encoders.items()
    }
    round_seconds: dict[str, list[float]] = {name: [] for name in encoders}
    for name, encoder in encoders.items():
        encoder.encode_arrays(arrays[name][0])  # warm-up
    for _ in range(rounds):
        for name, encoder in encoders.items():
            started = time.perf_counter()
            for array in arrays[name]:
                encoder.encode_arrays(array)
            round_seconds[name].append(time.perf_counter() - started)
    queries = np.concatenate(arrays["trained"])
    out = {}
    for name, encoder in encoders.items():
        out[name] = {
            "model_id": encoder.model_id,
            "ms_per_image": round(float(np.median(round_seconds[name])) / len(images) * 1e3, 2),
            "vs_baseline": round(
                float(np.median(np.divide(round_seconds[name], round_seconds["baseline"]))), 2
            ),
            "size_mb": round(models[name].stat().st_size / 1e6, 1),
            "embedding_dim": encoder.dim,
        }
    float_vectors = encoders["trained"].encode_arrays(queries)
    int8_vectors = encoders["trained_int8"].encode_arrays(queries)
    out["trained_int8"]["cosine_to_float"] = round(
        float((float_vectors * int8_vectors).sum(axis=1).mean()), 4
    )
    return out


LAYOUT_OPS = ("Transpose", "ReorderInput", "ReorderOutput")


def operator_profile(models: dict[str, Path], runs: int = 60) -> dict[str, dict[str, float]]:
    """Where each model's time goes, by ONNX Runtime's own profiler (batch 1, 2 threads, the
    optimised graph as served): depthwise and dense convolutions, layout changes, the rest.
    It is what shows why int8 gains little here: its depthwise convolutions are no faster
    than float ones."""
    import onnxruntime as ort

    out = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, path in models.items():
            options = ort.SessionOptions()
            options.intra_op_num_threads = 2
            options.enable_profiling = True
            options.profile_file_prefix = str(Path(scratch) / name)
            optimised = Path(scratch) / f"{name}-optimised.onnx"
            options.optimized_model_filepath = str(optimised)
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            metadata = session.get_modelmeta().custom_metadata_map
            size = ModelSpec.from_json(metadata[METADATA_KEY]).input_size
            feed = {session.get_inputs()[0].name: np.zeros((1, 3, size, size), np.float32)}
            if LOCALIZER_SWITCH in [i.name for i in session.get_inputs()]:
                feed[LOCALIZER_SWITCH] = np.asarray(False)  # as the embedding's pass runs
            for _ in range(runs):
                session.run(None, feed)
            events = json.loads(Path(session.end_profiling()).read_text())
            out[name] = kernel_times(events, depthwise_nodes(optimised), runs)
    return out


def depthwise_nodes(model: Path) -> set[str]:
    import onnx

    graph = onnx.load(str(model)).graph
    return {
        node.name
        for node in graph.node
        if any(a.name == "group" and a.i > 1 for a in node.attribute)
    }


def kernel_times(events: list[dict], depthwise: set[str], runs: int) -> dict[str, float]:
    """Milliseconds per run by kind of operator, from a profile's node events."""
    totals = dict.fromkeys(("depthwise_conv", "dense_conv", "layout", "other"), 0.0)
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        op = event["args"]["op_name"]
        node = event["name"].removesuffix("_kernel_time")
        if op in ("Conv", "QLinearConv", "FusedConv", "NchwcConv"):
            kind = "depthwise_conv" if node in depthwise else "dense_conv"
        else:
            kind = "layout" if op in LAYOUT_OPS else "other"
        totals[kind] += event["dur"] / 1e3 / runs
    return {kind: round(ms, 3) for kind, ms in totals.items()}


def onnx_vs_torch(model: Path, repeats: int = 30) -> dict:
    """The baseline on ONNX Runtime against eager PyTorch: same weights, inputs, 2 threads."""
    import torch

    from revsearch.encoder.export import EmbeddingNet, load_backbone

    encoder = OnnxEncoder(model, threads=2)
    torch.set_num_threads(2)
    net = EmbeddingNet(load_backbone(get_pretrained(DEFAULT_PRETRAINED))).eval()
    out = {}
    for batch in (1, 32):
        images = np.random.default_rng(0).normal(size=(batch, 3, 224, 224)).astype(np.float32)
        tensor = torch.from_numpy(images)
        runs = max(3, repeats // batch * 4) if batch > 1 else repeats
        timings = {}
        with torch.inference_mode():
            for name, run in (
                ("torch", lambda tensor=tensor: net(tensor)),
                ("onnxruntime", lambda images=images: encoder.encode_arrays(images)),
            ):
                run()
                started = time.perf_counter()
                for _ in range(runs):
                    run()
                timings[name] = (time.perf_counter() - started) / runs / batch * 1e3
        out[f"batch_{batch}"] = {
            "torch_ms_per_image": round(timings["torch"], 2),
            "onnxruntime_ms_per_image": round(timings["onnxruntime"], 2),
            "speedup": round(timings["torch"] / timings["onnxruntime"], 2),
        }
    return out


def accuracy(model: Path) -> dict:
    options = EvalOptions(workers=os.cpu_count() or 2, perturb=True)
    result = evaluate(OnnxEncoder(model, threads=1), MANIFEST, options=options)
    return json.loads(json.dumps(result.as_dict()), parse_float=lambda v: round(float(v), 4))


def markdown(results: dict) -> str:
    speed, machine = results["speed"], results["machine"]
    lines = [
        "# Encoder benchmark",
        "",
        f"Machine: {machine['cpu']}, {machine['cpus']} cores "
        f"({' '.join(machine['cpu_flags'])}). Batch 1, 2 ONNX Runtime threads, "
        "medians of interleaved rounds.",
        "",
        "| model | id | dim | MB | ms/img | vs baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in speed.items():
        lines.append(
            f"| {name} | `{row['model_id']}` | {row['embedding_dim']} | {row['size_mb']} "
            f"| {row['ms_per_image']} | {row['vs_baseline']:.2f}x |"
        )
    lines += [
        "",
        *(
            f"Baseline, {batch.replace('_', ' ')}: ONNX Runtime {r['onnxruntime_ms_per_image']} "
            f"ms/img, eager PyTorch {r['torch_ms_per_image']} ms/img ({r['speedup']}x)."
            for batch, r in results["onnx_vs_torch"].items()
        ),
        f"int8 embedding cosine to the float model: {speed['trained_int8']['cosine_to_float']}.",
        "",
        "Where the time goes (ONNX Runtime's profiler, ms per image in the kernels):",
        "",
        "| model | depthwise convolutions | dense convolutions | layout changes | other |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {row['depthwise_conv']} | {row['dense_conv']} | {row['layout']} "
            f"| {row['other']} |"
            for name, row in results["operators"].items()
        ),
    ]
    if results.get("accuracy"):
        perturbations = list(next(iter(results["accuracy"].values()))["perturbed_recall@1"])
        lines += [
            "",
            "Eval classes 99-196 (8,131 images, each a query against all others):",
            "",
            "| model | R@1 | R@2 | R@4 | R@8 | MAP@R | " + " | ".join(perturbations) + " |",
            "|---|---|---|---|---|---|" + "---|" * len(perturbations),
        ]
        for name, row in results["accuracy"].items():
            cells = [row[k] for k in ("recall@1", "recall@2", "recall@4", "recall@8", "map@r")]
            cells += [row["perturbed_recall@1"][p] for p in perturbations]
            lines.append(f"| {name} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument(
        "--reuse-accuracy", type=Path, default=None,
        help="an earlier encoder.json: reuse the accuracy of models whose file is unchanged",
    )  # fmt: skip
    args = parser.parse_args()
    trained, trained_int8 = shipped_float_model(), shipped_int8_model()
    if trained is None or trained_int8 is None:
        raise SystemExit("the shipped models are missing from src/revsearch/models/")
    with tempfile.TemporaryDirectory() as scratch:
        models = {
            "baseline": baseline_model(Path(scratch)),
            "trained": trained,
            "trained_int8": trained_int8,
        }
        results: dict = {
            "machine": describe(),
            "speed": speeds(models),
            "operators": operator_profile({k: models[k] for k in ("trained", "trained_int8")}),
            "onnx_vs_torch": onnx_vs_torch(models["baseline"]),
        }
        digests = {name: sha256_file(path) for name, path in models.items()}
        results["sha256"] = digests
        if not args.skip_accuracy:
            earlier = json.loads(args.reuse_accuracy.read_text()) if args.reuse_accuracy else {}
            results["accuracy"] = {
                name: earlier["accuracy"][name]
                if earlier.get("sha256", {}).get(name) == digests[name]
                else accuracy(path)
                for name, path in models.items()
            }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "encoder.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "encoder.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
