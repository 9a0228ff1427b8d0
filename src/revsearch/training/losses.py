"""Metric-learning losses on L2-normalised embeddings, each with learnable class vectors."""

from __future__ import annotations

import torch
from torch import nn


class ProxyAnchorLoss(nn.Module):
    """Proxy-Anchor (Kim et al., CVPR 2020): each class proxy pulls its batch positives and
    pushes the negatives, weighting hard examples by a soft-plus of summed exponentials."""

    def __init__(self, classes: int, dim: int, margin: float = 0.1, alpha: float = 32.0) -> None:
        super().__init__()
        self.proxies = nn.Parameter(torch.empty(classes, dim))
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")
        self.margin = margin
        self.alpha = alpha

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = embeddings @ nn.functional.normalize(self.proxies, dim=1).T
        positive = nn.functional.one_hot(labels, cos.shape[1]).bool()
        pos_logits = torch.where(positive, -self.alpha * (cos - self.margin), -torch.inf)
        neg_logits = torch.where(positive, -torch.inf, self.alpha * (cos + self.margin))
        with_positives = positive.any(dim=0)
        pos_term = _log1p_sum_exp(pos_logits)[with_positives].sum() / with_positives.sum()
        neg_term = _log1p_sum_exp(neg_logits).sum() / cos.shape[1]
        return pos_term + neg_term


class NormSoftmaxLoss(nn.Module):
    """Normalised softmax (Zhai & Wu, BMVC 2019): cross-entropy over cosine / temperature."""

    def __init__(self, classes: int, dim: int, temperature: float = 0.05) -> None:
        super().__init__()
        self.proxies = nn.Parameter(torch.empty(classes, dim))
        nn.init.normal_(self.proxies, std=1.0 / dim**0.5)
        self.temperature = temperature

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = embeddings @ nn.functional.normalize(self.proxies, dim=1).T
        return nn.functional.cross_entropy(logits / self.temperature, labels)


def _log1p_sum_exp(logits: torch.Tensor) -> torch.Tensor:
    """log(1 + sum_i exp(x_i)) per column, stable for large ``alpha``."""
    zeros = torch.zeros(1, logits.shape[1], dtype=logits.dtype, device=logits.device)
    return torch.logsumexp(torch.cat([zeros, logits]), dim=0)


def build_loss(name: str, classes: int, dim: int, **options: float) -> nn.Module:
    if name == "proxy_anchor":
        return ProxyAnchorLoss(classes, dim, options["margin"], options["alpha"])
    return NormSoftmaxLoss(classes, dim, options["temperature"])
