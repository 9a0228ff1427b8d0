"""Encode many files in parallel, in order: used by evaluation and reindexing."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from revsearch.encoder.locating import encode_images
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.parallel import chunked, ordered_map
from revsearch.preprocess import decode, to_rgb

CHUNK = 16


def encode_paths(
    encoder: OnnxEncoder,
    paths: Sequence[str],
    *,
    workers: int = 2,
    on_progress: Callable[[int], None] | None = None,
    alter: Callable[[Image.Image], Image.Image] | None = None,
    read: Callable[[str], bytes] | None = None,
) -> np.ndarray:
    """(N, D) vectors for ``paths``; the first unreadable file raises its RevSearchError.

    ``alter`` changes each decoded image before the model's transform (robustness tests);
    ``read`` fetches a source's bytes (default: a local file).
    """

    def load(path: str) -> Image.Image:
        source = read(path) if read else path
        if alter is None:
            return decode(source, draft_size=encoder.draft_size, name=path).image
        return to_rgb(alter(decode(source, name=path).image))

    def encode_chunk(chunk: list[str]) -> np.ndarray:
        return np.stack([e.vector for e in encode_images(encoder, [load(p) for p in chunk])])

    parts = []
    for vectors in ordered_map(encode_chunk, chunked(list(paths), CHUNK), workers):
        parts.append(vectors)
        if on_progress:
            on_progress(len(vectors))
    return np.concatenate(parts) if parts else np.empty((0, encoder.dim), np.float32)
