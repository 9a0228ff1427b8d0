"""The serving encoder: an ONNX Runtime session that turns images into unit vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from revsearch.encoder.spec import METADATA_KEY, ModelSpec
from revsearch.errors import ModelNotFoundError
from revsearch.preprocess import prepare


class OnnxEncoder:
    """Loads one ONNX model; thread-safe (ORT sessions allow concurrent ``run`` calls)."""

    def __init__(self, path: str | Path, *, threads: int = 0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"model file not found: {self.path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own untyped errors
            raise ModelNotFoundError(f"{self.path}: not a loadable ONNX model ({exc})") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise ModelNotFoundError(f"{self.path}: ONNX model lacks RevSearch metadata")
        self.spec = ModelSpec.from_json(metadata[METADATA_KEY])
        self.transform = self.spec.transform
        self._input = self.session.get_inputs()[0].name

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def dim(self) -> int:
        return self.spec.embedding_dim

    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 -> (N, D) L2-normalised float32."""
        (vectors,) = self.session.run(None, {self._input: np.ascontiguousarray(batch)})
        return normalize(vectors)

    def encode(self, sources: Sequence[bytes | str | Path], **limits: int) -> np.ndarray:
        """Decode, preprocess and encode images in one batch."""
        batch = np.stack([prepare(source, self.transform, **limits) for source in sources])
        return self.encode_arrays(batch)


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (the model already does it; this guards foreign models)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
