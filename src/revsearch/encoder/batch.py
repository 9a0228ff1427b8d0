"""Encode many files in parallel, in order: used by evaluation and reindexing."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from revsearch.encoder.onnx import OnnxEncoder
from revsearch.parallel import chunked, ordered_map
from revsearch.preprocess import prepare

CHUNK = 16


def encode_paths(
    encoder: OnnxEncoder,
    paths: Sequence[str],
    *,
    workers: int = 2,
    on_progress: Callable[[int], None] | None = None,
    **limits: int,
) -> np.ndarray:
    """(N, D) vectors for ``paths``; the first unreadable file raises its RevSearchError."""

    def encode_chunk(chunk: list[str]) -> np.ndarray:
        return encoder.encode_arrays(
            np.stack([prepare(p, encoder.transform, **limits) for p in chunk])
        )

    parts = []
    for vectors in ordered_map(encode_chunk, chunked(list(paths), CHUNK), workers):
        parts.append(vectors)
        if on_progress:
            on_progress(len(vectors))
    return np.concatenate(parts) if parts else np.empty((0, encoder.dim), np.float32)
