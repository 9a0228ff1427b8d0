"""What a model file says about itself, so no input size or normalisation is written twice."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from revsearch.preprocess import Transform

METADATA_KEY = "revsearch"


@dataclass(frozen=True)
class ModelSpec:
    """Identity and preprocessing of an encoder, stored inside the ONNX file's metadata."""

    model_id: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    embedding_dim: int
    architecture: str = ""
    description: str = ""

    @property
    def transform(self) -> Transform:
        return Transform(self.input_size, self.mean, self.std)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        raw = json.loads(text)
        raw["mean"] = tuple(raw["mean"])
        raw["std"] = tuple(raw["std"])
        return cls(**raw)
