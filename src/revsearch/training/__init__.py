"""Training a retrieval encoder (needs the 'train' extra: torch, albumentations, mlflow, optuna).

The recipe is fast on CPU because the early, generic layers stay frozen: their outputs for
several augmented views of every image are computed once with ONNX Runtime and cached, and
only the last blocks and the embedding head are trained on them.
"""
