"""The evaluation protocol of ../shared/data/stanford-cars/README.md, on any labelled manifest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from revsearch.encoder.batch import encode_paths
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import BadParameterError
from revsearch.eval.metrics import retrieval_metrics
from revsearch.eval.perturb import alterations
from revsearch.sources import read_manifest


@dataclass(frozen=True)
class EvalOptions:
    """How an evaluation runs, shared by both protocols: workers, alterations, progress."""

    workers: int = 2
    perturb: bool = False  # the five alterations of revsearch.eval.perturb
    framing: bool = False  # the phone-photo framings of revsearch.eval.framing
    on_progress: Callable[[int], None] | None = None
    on_start: Callable[[int], None] | None = None  # told the number of images to encode


DEFAULT_OPTIONS = EvalOptions()


@dataclass(frozen=True)
class EvalResult:
    model_id: str
    split: str
    images: int
    classes: int
    metrics: dict[str, float]
    perturbed_recall_at_1: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {
            "model_id": self.model_id,
            "split": self.split,
            "images": self.images,
            "classes": self.classes,
            **self.metrics,
        }
        if self.perturbed_recall_at_1:
            result["perturbed_recall@1"] = self.perturbed_recall_at_1
        return result


def evaluate(
    encoder: OnnxEncoder,
    manifest: Path,
    *,
    split: str = "eval",
    limit: int | None = None,
    options: EvalOptions = DEFAULT_OPTIONS,
) -> EvalResult:
    """Encode the split's images and score each as a query against all the others.

    With ``options.perturb``, each query is also altered (see :mod:`revsearch.eval.perturb`)
    and searched against the clean gallery, giving Recall@1 per alteration;
    ``options.framing`` adds the phone-photo framings of :mod:`revsearch.eval.framing`.
    """
    sources = read_manifest(manifest, split=split, limit=limit)
    if any(s.class_name is None for s in sources):
        raise BadParameterError(f"{manifest}: evaluation needs a 'class_name' for every row")
    return evaluate_images(
        encoder,
        [s.path for s in sources],
        [str(s.class_name) for s in sources],
        split=split,
        options=options,
    )


def evaluate_images(
    encoder: OnnxEncoder,
    paths: list[str],
    labels: list[str],
    *,
    split: str,
    options: EvalOptions = DEFAULT_OPTIONS,
) -> EvalResult:
    """:func:`evaluate` on images already chosen, e.g. a training recipe's held-out classes."""
    if len(set(labels)) < 2 or len(paths) < 2:
        raise BadParameterError(f"split '{split}' has too few images or classes")
    altered = alterations(options.perturb, options.framing, donors=paths)
    if options.on_start:
        options.on_start(len(paths) * (1 + len(altered)))
    embed = partial(encode_paths, encoder, workers=options.workers, on_progress=options.on_progress)
    vectors = embed(paths)
    perturbed = {}
    for name, alter in altered.items():
        queries = embed(paths, alter=alter)
        metrics = retrieval_metrics(vectors, labels, ks=(1,), queries=queries)
        perturbed[name] = metrics["recall@1"]
    return EvalResult(
        encoder.model_id,
        split,
        len(paths),
        len(set(labels)),
        retrieval_metrics(vectors, labels),
        perturbed,
    )
