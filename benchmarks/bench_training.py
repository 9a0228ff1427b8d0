"""Training speed on this CPU: one step of the trained part, several ways, in one run.

A step is what `revsearch train` repeats: the trained top of the recipe's model (Lite1,
stages 4-7 and the embedding layer) forward and backward on a batch of cached trunk
features, Proxy-Anchor loss, an AdamW step. Variants, each timed in the same rounds
(interleaved, so the machine's drift hits all alike):

- ``contiguous``: float32, NCHW tensors;
- ``channels_last``: float32, NHWC (what the trainer does today: the baseline);
- ``bf16_autocast``: channels_last under ``torch.autocast("cpu", torch.bfloat16)``;
- ``onednn_bf16``: channels_last, float32 tensors, oneDNN allowed to compute convolutions and
  matmuls in bf16 (``torch.backends.mkldnn.*.fp32_precision = "bf16"``);
- ``compiled``: channels_last, ``torch.compile`` (Inductor; its compile time is reported
  apart);
- ``compiled_bf16``: both.

Reported: the median over rounds of each variant's step time, its speed relative to the
baseline (median of per-round ratios), images per second, and the CPU flags seen.

    python benchmarks/bench_training.py [--batch 64] [--rounds 3]   # about 6 minutes, 2 cores

Writes benchmarks/results/training.json and training.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from machine import describe

from revsearch.training.losses import build_loss
from revsearch.training.model import SplitEncoder, build_model
from revsearch.training.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RECIPE = ROOT / "recipes" / "cars-lite1-product.toml"
BASELINE = "channels_last"
STEPS = 2  # timed steps per variant per round


@contextlib.contextmanager
def onednn_bf16() -> Iterator[None]:
    """oneDNN's reduced-precision mode for float32 convolutions and matmuls."""
    backends = [torch.backends.mkldnn.conv, torch.backends.mkldnn.matmul]
    before = [b.fp32_precision for b in backends]
    for backend in backends:
        backend.fp32_precision = "bf16"
    try:
        yield
    finally:
        for backend, value in zip(backends, before, strict=True):
            backend.fp32_precision = value


class Variant:
    def __init__(
        self,
        name: str,
        model: SplitEncoder,
        classes: int,
        dim: int,
        *,
        channels_last: bool = True,
        context: Callable[[], Any] = contextlib.nullcontext,
        compiled: bool = False,
    ) -> None:
        self.name = name
        self.model = model.train()
        if channels_last:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.channels_last = channels_last
        self.loss = build_loss("proxy_anchor", classes, dim, margin=0.1, alpha=32.0)
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW([*params, *self.loss.parameters()], lr=1e-4)
        self.context = context
        self.compiled = compiled
        self.top = torch.compile(model.top) if compiled else model.top
        self.compile_seconds: float | None = None

    def step(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        if self.channels_last:
            features = features.contiguous(memory_format=torch.channels_last)
        with self.context():
            loss = self.loss(self.top(features).float(), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def autocast() -> Any:
    return torch.autocast("cpu", dtype=torch.bfloat16)


def run(batch: int, rounds: int, threads: int) -> dict[str, Any]:
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    recipe = load_recipe(RECIPE)
    classes, dim = 196, recipe.embedding_dim

    def fresh() -> SplitEncoder:
        torch.manual_seed(0)
        return build_model(recipe.backbone, recipe.trainable_blocks, dim)

    probe = fresh()
    size = 240  # Lite1's input
    with torch.no_grad():
        shape = probe.trunk(torch.zeros(1, 3, size, size)).shape[1:]
    features = torch.randn(batch, *shape)
    labels = torch.arange(batch) % 16  # 16 classes x 4, as the recipe's batches
    variants = [
        Variant("contiguous", fresh(), classes, dim, channels_last=False),
        Variant(BASELINE, fresh(), classes, dim),
        Variant("bf16_autocast", fresh(), classes, dim, context=autocast),
        Variant("onednn_bf16", fresh(), classes, dim, context=onednn_bf16),
        Variant("compiled", fresh(), classes, dim, compiled=True),
        Variant("compiled_bf16", fresh(), classes, dim, context=autocast, compiled=True),
    ]
    for variant in variants:  # warm-up (and compilation)
        started = time.perf_counter()
        variant.step(features, labels)
        if variant.compiled:
            variant.compile_seconds = time.perf_counter() - started
        variant.step(features, labels)
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:
            started = time.perf_counter()
            for _ in range(STEPS):
                variant.step(features, labels)
            times[variant.name].append((time.perf_counter() - started) / STEPS)
    base = times[BASELINE]
    rows = {
        name: {
            "step_s": round(statistics.median(values), 3),
            "speed_vs_baseline": round(
                statistics.median(b / v for b, v in zip(base, values, strict=True)), 3
            ),
            "images_per_s": round(batch / statistics.median(values), 1),
        }
        for name, values in times.items()
    }
    compiled = {v.name: v.compile_seconds for v in variants if v.compile_seconds is not None}
    return {
        "machine": describe(),
        "torch": torch.__version__,
        "threads": threads,
        "batch": batch,
        "feature_shape": list(shape),
        "rounds": rounds,
        "steps_per_round": STEPS,
        "baseline": BASELINE,
        "compile_s": {name: round(seconds, 1) for name, seconds in compiled.items()},
        "variants": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Training speed: one step of the trained part (Lite1 stages 4-7 + embedding)",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} cores ({' '.join(m['cpu_flags'])}); torch "
        f"{result['torch']}, {result['threads']} threads; batch {result['batch']} of cached "
        f"features {tuple(result['feature_shape'])}; medians of {result['rounds']} interleaved "
        f"rounds of {result['steps_per_round']} steps.",
        "",
        "| variant | s / step | images / s | speed vs channels_last |",
        "|---|---|---|---|",
    ]
    for name, row in result["variants"].items():
        lines.append(
            f"| {name} | {row['step_s']} | {row['images_per_s']} | {row['speed_vs_baseline']}x |"
        )
    compiling = ", ".join(f"{name} {seconds} s" for name, seconds in result["compile_s"].items())
    lines += ["", f"First step of the compiled variants (compilation included): {compiling}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    result = run(args.batch, args.rounds, args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "training.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
