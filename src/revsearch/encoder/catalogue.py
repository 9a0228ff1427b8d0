"""``revsearch models``: every shipped or configured encoder with what it was trained on.

What a shipped file scored is measured after it was made, so it lives beside the files
(``models/models.json``, figures of the model card), not inside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import PACKAGED_MODELS_DIR, resolve_model_path
from revsearch.errors import ModelNotFoundError

SHIPPED_FACTS = PACKAGED_MODELS_DIR / "models.json"


def list_models(configured: Path | None = None) -> list[dict[str, Any]]:
    """The shipped models, then the configured one if it is not among them."""
    facts = json.loads(SHIPPED_FACTS.read_text()) if SHIPPED_FACTS.is_file() else {}
    paths = sorted(PACKAGED_MODELS_DIR.glob("*.onnx"))
    if configured is not None and configured.resolve() not in {p.resolve() for p in paths}:
        paths.append(configured)
    try:
        default = resolve_model_path(configured).resolve()
    except ModelNotFoundError:
        default = None
    entries = []
    for path in paths:
        spec = OnnxEncoder(path, threads=1).spec
        known = facts.get(path.name, {}) if path.parent == PACKAGED_MODELS_DIR else {}
        entries.append(
            {
                "id": spec.model_id,
                "path": str(path),
                "default": path.resolve() == default,
                "training_split": spec.training_split or known.get("training_split"),
                "metrics": known.get("metrics", {}),
            }
        )
    return entries
