"""The trainable encoder: an EfficientNet-Lite split into a frozen trunk and a trained top.

``forward`` is the whole model (what is exported); ``trunk`` and ``top`` let training run the
frozen part once, in ONNX Runtime, and cache its output.
"""

from __future__ import annotations

import torch
from torch import nn

from revsearch.encoder.export import Backbone, load_backbone
from revsearch.encoder.registry import get_pretrained
from revsearch.errors import BadParameterError


class SplitEncoder(nn.Module):
    def __init__(self, backbone: Backbone, trainable_blocks: int, embedding_dim: int) -> None:
        super().__init__()
        blocks = len(backbone._blocks)  # Lite0 16, Lite1 21
        if not 1 <= trainable_blocks <= blocks:
            raise BadParameterError(
                f"recipe: invalid value for trainable_blocks: {trainable_blocks} "
                f"(this backbone has {blocks} blocks)"
            )
        self.backbone: Backbone = backbone
        self.split = blocks - trainable_blocks
        self.head = nn.Linear(backbone._conv_head.out_channels, embedding_dim)
        for module in (backbone._conv_stem, backbone._bn0, *backbone._blocks[: self.split]):
            module.requires_grad_(False)

    def _block(self, index: int, x: torch.Tensor) -> torch.Tensor:
        # Stochastic depth grows with depth up to the backbone's own rate, as in EfficientNet.
        blocks = self.backbone._blocks
        rate = (self.backbone._global_params.drop_connect_rate or 0.0) * index / len(blocks)
        return blocks[index](x, drop_connect_rate=rate)

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        b = self.backbone
        x = b._swish(b._bn0(b._conv_stem(images)))
        for index in range(self.split):
            x = self._block(index, x)
        return x

    def top(self, features: torch.Tensor) -> torch.Tensor:
        b = self.backbone
        x = features
        for index in range(self.split, len(b._blocks)):
            x = self._block(index, x)
        x = b._swish(b._bn1(b._conv_head(x))).mean(dim=(2, 3))
        return nn.functional.normalize(self.head(x), dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.top(self.trunk(images))

    def train(self, mode: bool = True) -> SplitEncoder:
        """Batch-norm statistics stay frozen: batches of a few classes would skew them."""
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def trained_parameters(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(backbone blocks, embedding head): they learn at different rates."""
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        return backbone, list(self.head.parameters())


class Trunk(nn.Module):
    """The frozen part alone, for export to ONNX Runtime (fast feature caching)."""

    def __init__(self, model: SplitEncoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.trunk(images)


def build_model(backbone: str, trainable_blocks: int, embedding_dim: int) -> SplitEncoder:
    return SplitEncoder(load_backbone(get_pretrained(backbone)), trainable_blocks, embedding_dim)
