"""Frozen-trunk features of augmented views, computed once with ONNX Runtime, kept on disk.

The trunk never changes during training, so running it again every epoch would waste most
of a CPU budget; caching several augmented views per image keeps augmentation's benefit.
A cache is written under a name derived from everything it depends on and marked complete
only at the end, so an interrupted build is redone, never half-used.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from revsearch.encoder.export import export_graph, pretrained_spec
from revsearch.encoder.registry import get_pretrained
from revsearch.parallel import chunked, ordered_map
from revsearch.training.augment import augmented, build_pipeline
from revsearch.training.data import Labelled
from revsearch.training.model import SplitEncoder, Trunk

CACHE_VERSION = 2  # 2: views of non-square photos start from the whole photo
CHUNK = 8


def cache_directory(root: Path, key: dict[str, Any]) -> Path:
    text = json.dumps({**key, "version": CACHE_VERSION}, sort_keys=True)
    return root / hashlib.sha256(text.encode()).hexdigest()[:16]


def trunk_features(
    model: SplitEncoder,
    backbone: str,
    data: Labelled,
    directory: Path,
    name: str,
    *,
    views: int,
    strength: float,
    crop_strength: float | None = None,
    seed: int,
    threads: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(images, views, C, H, W) float16; view 0 is the clean image, the others augmented."""
    path, done = directory / f"{name}.npy", directory / f"{name}.complete"
    if done.exists():
        return np.load(path, mmap_mode="r")
    directory.mkdir(parents=True, exist_ok=True)
    transform = pretrained_spec(get_pretrained(backbone)).transform
    session = _trunk_session(model, directory / "trunk.onnx", transform.size, threads)

    def prepare_chunk(item: tuple[int, list[int]]) -> tuple[list[int], np.ndarray]:
        number, indices = item
        pipeline = build_pipeline(
            transform.size, strength, seed=seed * 1_000_003 + number, crop_strength=crop_strength
        )
        arrays = [
            augmented(data.paths[i], pipeline if view else None, transform)
            for i in indices
            for view in range(views)
        ]
        return indices, np.stack(arrays)

    output: np.memmap | None = None
    chunks = list(enumerate(chunked(list(range(len(data))), CHUNK)))
    for indices, batch in ordered_map(prepare_chunk, chunks, workers=2):
        (features,) = session.run(None, {"images": batch})
        if output is None:
            shape = (len(data), views, *features.shape[1:])
            output = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=shape)
        output[indices] = features.reshape(len(indices), views, *features.shape[1:])
        if on_progress:
            on_progress(len(indices))
    if output is not None:
        output.flush()
        del output
    done.touch()
    return np.load(path, mmap_mode="r")


def _trunk_session(
    model: SplitEncoder, path: Path, size: int, threads: int
) -> ort.InferenceSession:
    if not path.exists():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        export_graph(Trunk(model), torch.zeros(1, 3, size, size), tmp, output_name="features")
        os.replace(tmp, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
