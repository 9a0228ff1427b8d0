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
    # What the weights were trained on: "retrieval-train" (classes 1-98, the open-set
    # protocol) or "stanford-train" (the product protocol's split); None when unknown.
    training_split: str | None = None
    # Temperature of the k-NN vote fitted on held-out images (``revsearch calibrate-model``),
    # so the vote's confidence reads as a probability; None: the uncalibrated default.
    vote_temperature: float | None = None
    # How the localiser head (``revsearch train-localizer``) did on its validation frames;
    # None: the model has none.
    localizer: dict[str, float] | None = None
    # The side the localiser's own pass squashes photos to (the graph takes any side); None:
    # input_size, as in the first localiser models, which shared the embedding's pass.
    locate_size: int | None = None

    @property
    def transform(self) -> Transform:
        return Transform(self.input_size, self.mean, self.std)

    @property
    def locate_transform(self) -> Transform:
        if self.locate_size is None:  # the first localisers read the embedding's own input
            return self.transform
        return Transform(self.locate_size, self.mean, self.std, via=self.input_size)

    def to_json(self) -> str:
        """Unset optional fields are left out: older readers and older files agree."""
        values = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        raw = json.loads(text)
        raw["mean"] = tuple(raw["mean"])
        raw["std"] = tuple(raw["std"])
        return cls(**raw)
