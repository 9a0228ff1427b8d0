"""The serving encoder: an ONNX Runtime session that turns images into unit vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from revsearch.config import DecodeLimits
from revsearch.encoder.spec import METADATA_KEY, ModelSpec
from revsearch.errors import ModelNotFoundError
from revsearch.localize import LOCALIZER_OUTPUT, LOCALIZER_SWITCH
from revsearch.preprocess import DEFAULT_LIMITS, decode

# With a localiser, photos are decoded this many times the model's input size: a car that
# fills a quarter of the frame must still be sharp once cut out.
LOCATE_DRAFT_FACTOR = 2


class OnnxEncoder:
    """Loads one ONNX model; thread-safe (ORT sessions allow concurrent ``run`` calls).

    A model with a ``localizer`` output also finds the cars in a photo
    (:mod:`revsearch.encoder.locating`); ``locate=False`` ignores it. ``spin=False`` lets
    ONNX Runtime's idle threads sleep instead of spinning: right for a process that does other
    work on the same cores between the model's runs (the same-photo check).
    """

    def __init__(
        self, path: str | Path, *, threads: int = 0, locate: bool = True, spin: bool = True
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"model file not found: {self.path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
        self.locate_transform = self.spec.locate_transform
        self._input = self.session.get_inputs()[0].name
        outputs = [output.name for output in self.session.get_outputs()]
        self._embedding = outputs[0]
        self.locates = locate and LOCALIZER_OUTPUT in outputs
        # Models whose head sits behind a switch run it only when asked (older ones always).
        switched = LOCALIZER_SWITCH in [i.name for i in self.session.get_inputs()]
        self._head_off = {LOCALIZER_SWITCH: np.asarray(False)} if switched else {}
        self._head_on = {LOCALIZER_SWITCH: np.asarray(True)} if switched else {}

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def dim(self) -> int:
        return self.spec.embedding_dim

    @property
    def draft_size(self) -> int:
        """The size photos are decoded at (at least): larger when cars are cut out of them."""
        return self.spec.input_size * (LOCATE_DRAFT_FACTOR if self.locates else 1)

    def encode_arrays(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 -> (N, D) L2-normalised float32."""
        feed = {self._input: np.ascontiguousarray(batch), **self._head_off}
        (vectors,) = self.session.run([self._embedding], feed)
        return normalize(vectors)

    def locate_arrays(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, L, L) photos at the localiser's size -> its grids (N, 5, G, G)."""
        feed = {self._input: np.ascontiguousarray(batch), **self._head_on}
        (grids,) = self.session.run([LOCALIZER_OUTPUT], feed)
        return grids

    def encode(
        self, sources: Sequence[bytes | str | Path], limits: DecodeLimits = DEFAULT_LIMITS
    ) -> np.ndarray:
        """Decode, preprocess and encode images in one batch (each photo's car, see
        :mod:`revsearch.encoder.locating`)."""
        from revsearch.encoder.locating import encode_images

        images = [decode(s, limits, draft_size=self.draft_size).image for s in sources]
        return np.stack([encoded.vector for encoded in encode_images(self, images)])


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (the model already does it; this guards foreign models)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
