from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from revsearch.encoder.onnx import OnnxEncoder
from revsearch.encoder.registry import PRETRAINED, get_pretrained, resolve_model_path
from revsearch.encoder.spec import METADATA_KEY, ModelSpec
from revsearch.errors import BadParameterError, ModelNotFoundError
from revsearch.preprocess import prepare
from tests.samples import DATASET, car_photo


def test_spec_round_trip() -> None:
    spec = ModelSpec("m", 224, (0.1, 0.2, 0.3), (0.4, 0.5, 0.6), 128, "arch", "text")
    assert ModelSpec.from_json(spec.to_json()) == spec


def test_model_carries_its_spec(encoder: OnnxEncoder) -> None:
    backbones = {p.architecture: p for p in PRETRAINED.values()}
    assert encoder.model_id and encoder.spec.architecture in backbones
    assert encoder.spec.input_size == backbones[encoder.spec.architecture].input_size
    assert encoder.transform.size == encoder.spec.input_size and encoder.dim in (512, 1280)


@pytest.mark.usefixtures("stanford_cars")
def test_vectors_are_unit_length_and_batch_independent(encoder: OnnxEncoder) -> None:
    paths = sorted((DATASET / "images" / "test").glob("0000*.jpg"))[:5]
    batch = encoder.encode(paths)
    assert batch.shape == (5, encoder.dim) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    single = encoder.encode(paths[2:3])
    np.testing.assert_allclose(single[0], batch[2], atol=1e-5)


def test_same_car_different_photo_is_more_similar(encoder: OnnxEncoder) -> None:
    """A resized, recompressed copy stays far closer than another car."""
    from PIL import Image

    from tests.support.images import encode

    original = Image.open(car_photo()).convert("RGB")
    altered = encode(original.resize((300, 260)), "JPEG", quality=60)
    other = DATASET / "images" / "train" / "00002.jpg"
    a, b, c = encoder.encode([car_photo(), altered, other])
    assert a @ b > 0.9 and a @ b > a @ c + 0.1


def test_thread_count_is_configurable(model_path: Path) -> None:
    one = OnnxEncoder(model_path, threads=1)
    assert one.session.get_session_options().intra_op_num_threads == 1
    array = prepare(car_photo(), one.transform)[None]
    np.testing.assert_allclose(
        one.encode_arrays(array), OnnxEncoder(model_path, threads=2).encode_arrays(array), atol=1e-5
    )


def test_model_without_metadata_is_refused(model_path: Path, tmp_path: Path) -> None:
    proto = onnx.load(str(model_path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ModelNotFoundError, match="metadata"):
        OnnxEncoder(bare)


def test_missing_or_broken_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        OnnxEncoder(tmp_path / "none.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(ModelNotFoundError, match="not a loadable"):
        OnnxEncoder(broken)
    with pytest.raises(ModelNotFoundError):
        resolve_model_path(tmp_path / "none.onnx")


def test_registry() -> None:
    assert set(PRETRAINED) >= {"efficientnet-lite0-imagenet"}
    with pytest.raises(BadParameterError, match="known"):
        get_pretrained("resnet-50")


@pytest.mark.slow  # a torch export
def test_export_has_parity_and_metadata(tmp_path: Path) -> None:
    from revsearch.encoder.export import PARITY_TOLERANCE, export_pretrained

    output = tmp_path / "lite0.onnx"
    spec, diff = export_pretrained(get_pretrained("efficientnet-lite0-imagenet"), output)
    assert diff < PARITY_TOLERANCE
    proto = onnx.load(str(output))
    assert proto.opset_import[0].version >= 17
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert ModelSpec.from_json(metadata[METADATA_KEY]) == spec
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param  # dynamic batch
    assert sorted(tmp_path.iterdir()) == [output]  # no temporary files left


def test_serving_imports_no_torch() -> None:
    code = (
        "import sys, revsearch.cli, revsearch.search, revsearch.indexing, revsearch.eval.runner;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_usearch_then_onnxruntime_import_order() -> None:
    """usearch 2.26 segfaulted when onnxruntime was imported after it; keep this pinned."""
    code = "import usearch.index, onnxruntime; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok"


@pytest.mark.slow  # quantises a model
def test_int8_quantisation_keeps_the_embeddings(float_model_path: Path, tmp_path: Path) -> None:
    model_path = float_model_path
    from revsearch.encoder.quantize import quantize
    from tests.samples import small_rows

    calibration = [
        str(DATASET / r["image"]) for r in small_rows(classes=4, per_class=4, split="train")
    ]
    output = tmp_path / "int8.onnx"
    spec = quantize(model_path, output, calibration)
    assert spec.model_id == f"{OnnxEncoder(model_path).model_id}-int8"
    assert output.stat().st_size < model_path.stat().st_size / 3
    quantized = OnnxEncoder(output, threads=1)
    assert quantized.spec == spec and quantized.transform == OnnxEncoder(model_path).transform
    queries = sorted((DATASET / "images" / "test").glob("0001*.jpg"))[:8]
    cosine = (OnnxEncoder(model_path, threads=1).encode(queries) * quantized.encode(queries)).sum(1)
    assert cosine.min() > 0.97
    assert sorted(tmp_path.iterdir()) == [output]
    with pytest.raises(BadParameterError, match="already quantised"):
        quantize(output, tmp_path / "twice.onnx", calibration)
    with pytest.raises(BadParameterError, match="already quantised"):
        quantize(output, tmp_path / "twice.onnx", calibration)
