"""Writes a model's spec into its ONNX file (needs the 'export' extra's ``onnx``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from revsearch.encoder.spec import METADATA_KEY, ModelSpec

if TYPE_CHECKING:  # onnx is an optional dependency (the export extra)
    from onnx import ModelProto


def embed_spec(proto: ModelProto, spec: ModelSpec) -> None:
    """Replace the RevSearch entry of an ONNX ``ModelProto``'s metadata, keeping the others."""
    props = proto.metadata_props
    kept = [(p.key, p.value) for p in props if p.key != METADATA_KEY]
    del props[:]
    for key, value in [*kept, (METADATA_KEY, spec.to_json())]:
        entry = props.add()
        entry.key, entry.value = key, value


def rewrite_spec(path: Path, spec: ModelSpec) -> None:
    """Replace the spec of a model file in place; the weights are untouched. Atomic: a
    crash leaves the old file."""
    import onnx

    proto = onnx.load(str(path))
    embed_spec(proto, spec)
    fd, tmp_name = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        onnx.save(proto, str(tmp))
        tmp.chmod(0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
