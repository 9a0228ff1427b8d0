"""Static int8 quantisation of an encoder (ONNX Runtime, per-channel, QDQ).

Calibrated on images of the training classes only (never the evaluation classes). The
result keeps the float model's preprocessing and gets its own model id, so the catalog's
model guard treats it as a different model (``revsearch reindex`` switches a catalog).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from revsearch.encoder.metadata import embed_spec
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.spec import ModelSpec
from revsearch.errors import BadParameterError, MissingExtraError
from revsearch.preprocess import prepare

CALIBRATION_BATCH = 8
# A retrieval-trained head magnifies the int8 error of the first, full-resolution layers, and
# min-max ranges waste int8 levels on rare outliers. Chosen on 300 training-class images by
# embedding cosine to the float model (models/README.md): for a Lite0 model, 0.993 mean /
# 0.951 min with only the stem in float, 0.998 / 0.989 with the 4 first convolutions in float
# (percentile ranges both), at about the same speed.
FLOAT_LEADING_CONVS = 4


def quantized_spec(spec: ModelSpec) -> ModelSpec:
    return ModelSpec(
        **{
            **spec.__dict__,
            "model_id": f"{spec.model_id}-int8",
            "description": f"{spec.description} (int8 static, per-channel)".strip(),
            "vote_temperature": None,  # calibrated per file: `revsearch calibrate-model`
        }
    )


def quantize(
    source: Path,
    output: Path,
    calibration_images: Sequence[str],
    float_leading_convs: int = FLOAT_LEADING_CONVS,
) -> ModelSpec:
    """Quantise ``source`` into ``output`` (written atomically) and return the new spec."""
    try:
        import onnx
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quant_pre_process,
            quantize_static,
        )
    except ImportError as exc:
        raise MissingExtraError("export", "onnx") from exc

    encoder = OnnxEncoder(source, threads=0)
    if encoder.model_id.endswith("-int8"):
        raise BadParameterError(f"{source}: {encoder.model_id} is already quantised")
    spec = quantized_spec(encoder.spec)
    input_name = encoder.session.get_inputs()[0].name

    class Images(CalibrationDataReader):
        def __init__(self) -> None:
            batches = [
                calibration_images[i : i + CALIBRATION_BATCH]
                for i in range(0, len(calibration_images), CALIBRATION_BATCH)
            ]
            self._batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            if batch is None:
                return None
            return {input_name: np.stack([prepare(p, encoder.transform) for p in batch])}

    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent) as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quantized = Path(scratch) / "quantized.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        convs = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv"]
        quantize_static(
            str(prepared),
            str(quantized),
            Images(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,  # 99.999th percentile
            nodes_to_exclude=convs[:float_leading_convs],
        )
        proto = onnx.load(str(quantized))
        del proto.metadata_props[:]
        embed_spec(proto, spec)
        onnx.save(proto, str(quantized))
        quantized.chmod(0o644)
        os.replace(quantized, output)
    return spec
