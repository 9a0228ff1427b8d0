"""The evaluation protocol of ../shared/data/stanford-cars/README.md, on any labelled manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from revsearch.encoder.batch import encode_paths
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BadParameterError
from revsearch.eval.metrics import retrieval_metrics
from revsearch.indexing import read_manifest


@dataclass(frozen=True)
class EvalResult:
    model_id: str
    split: str
    images: int
    classes: int
    metrics: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "model_id": self.model_id,
            "split": self.split,
            "images": self.images,
            "classes": self.classes,
            **self.metrics,
        }


def evaluate(
    encoder: OnnxEncoder,
    manifest: Path,
    *,
    split: str = "eval",
    limit: int | None = None,
    workers: int = 2,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> EvalResult:
    """Encode the split's images and score each as a query against all the others."""
    sources = read_manifest(manifest, split=split, limit=limit)
    if any(s.class_name is None for s in sources):
        raise BadParameterError(f"{manifest}: evaluation needs a 'class_name' for every row")
    if len({s.class_name for s in sources}) < 2 or len(sources) < 2:
        raise BadParameterError(f"{manifest}: split '{split}' has too few images or classes")
    if on_start:
        on_start(len(sources))
    vectors = encode_paths(
        encoder, [s.path for s in sources], workers=workers, on_progress=on_progress
    )
    labels = [s.class_name for s in sources]
    return EvalResult(
        encoder.model_id, split, len(sources), len(set(labels)), retrieval_metrics(vectors, labels)
    )
