"""The Milvus backend's pure parts: URLs, filter expressions, rows, and the backend factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from revsearch.catalog.db import CatalogDB
from revsearch.errors import BadParameterError
from revsearch.index.base import Filters, VectorRow
from revsearch.index.factory import BACKENDS, open_backend
from tests.backends.milvus_server import milvus_unavailable

try:
    from revsearch.index.milvus import (
        DEFAULT_TIMEOUT_S,
        MilvusBackend,
        entity,
        filter_expression,
        parse_url,
    )
except ImportError as missing:  # skip locally, fail on CI
    milvus_unavailable(f"the 'milvus' extra is not installed ({missing})")


def test_parse_url() -> None:
    address = parse_url("milvus://127.0.0.1:19531/cars")
    assert (address.uri, address.collection, address.token) == (
        "http://127.0.0.1:19531",
        "cars",
        "",
    )
    assert address.timeout == DEFAULT_TIMEOUT_S
    address = parse_url("milvus+https://user%3Apa%40ss@milvus.example:443/cars?timeout=2.5")
    assert (address.uri, address.token, address.timeout) == (
        "https://milvus.example:443",
        "user:pa@ss",
        2.5,
    )
    assert "pa@ss" not in address.display
    assert parse_url("milvus://localhost").display == "http://localhost:19530/revsearch"
    for bad in (
        "milvus://",
        "milvus://host:notaport/x",
        "milvus://host/bad-name",
        "milvus://host/x?timeout=0",
        "milvus://host/x?ef=5",
    ):
        with pytest.raises(BadParameterError):
            parse_url(bad)


def test_filter_expression() -> None:
    assert filter_expression(None) == filter_expression(Filters()) == ""
    assert filter_expression(Filters(make="BMW")) == 'make == "bmw"'
    assert filter_expression(Filters(make='a"b\\c')) == 'make == "a\\"b\\\\c"'
    assert filter_expression(Filters(year_max=2010)) == "year != -1 and year <= 2010"
    assert (
        filter_expression(Filters(make="Audi", year_min=2008, year_max=2012))
        == 'make == "audi" and year != -1 and year >= 2008 and year <= 2012'
    )


def test_entity_signature_covers_vector_and_filter_fields() -> None:
    vector = np.arange(4, dtype=np.float32)
    row = entity(VectorRow(7, vector, "Audi", 2012, "Audi TTS Coupe 2012"))
    assert (row["id"], row["make"], row["year"]) == (7, "audi", 2012)
    again = entity(VectorRow(7, vector.copy(), "Audi", 2012, "Audi TTS Coupe 2012"))
    assert again["sig"] == row["sig"]  # a signature depends on the content only
    others = [
        VectorRow(7, vector + 1, "Audi", 2012, "Audi TTS Coupe 2012"),
        VectorRow(7, vector, "BMW", 2012, "Audi TTS Coupe 2012"),
        VectorRow(7, vector, "Audi", None, "Audi TTS Coupe 2012"),
        VectorRow(7, vector, "Audi", 2012, None),
    ]
    assert len({row["sig"], *(entity(other)["sig"] for other in others)}) == 5
    assert entity(VectorRow(1, vector, None, None, "x" * 1000))["year"] == -1
    assert (
        len(entity(VectorRow(1, vector, "é" * 100, None, "é" * 1000))["class_name"].encode()) <= 512
    )


def test_factory_maps_schemes_to_backends(tmp_path: Path) -> None:
    db = CatalogDB(tmp_path / "catalog.sqlite")
    try:
        assert {"embedded", "milvus", "milvus+https"} <= set(BACKENDS)
        backend = open_backend("milvus://127.0.0.1:1/c", db, tmp_path)  # connects lazily
        assert isinstance(backend, MilvusBackend)
        assert backend.describe()["vector_backend"] == "milvus"
        assert open_backend("", db, tmp_path).describe()["vector_backend"] == "embedded"
        with pytest.raises(BadParameterError, match="milvus://"):
            open_backend("qdrant://host/c", db, tmp_path)
    finally:
        db.close()
