"""JSON shapes of the API: they are the contract, and they generate the OpenAPI docs."""

from __future__ import annotations

from pydantic import BaseModel, Field

from revsearch.catalog.catalog import Hit
from revsearch.catalog.db import ImageRecord
from revsearch.prediction import CANDIDATES, SURE_CONFIDENCE, Prediction


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_image"])
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class SearchResult(BaseModel):
    id: int
    score: float = Field(description="cosine similarity, -1 to 1 (higher is more similar)")
    class_name: str | None = Field(examples=["Audi TTS Coupe 2012"])
    make: str | None
    model: str | None = Field(examples=["TTS"])
    body: str | None = Field(examples=["Coupe"])
    year: int | None
    image_url: str
    thumbnail_url: str
    same_image: bool = Field(
        description="this is the very photo the query was made from (a crop, screenshot or "
        "re-saved copy); such a result comes first"
    )


class CandidateOut(BaseModel):
    class_name: str
    probability: float = Field(ge=0, le=1)


class PredictionOut(BaseModel):
    class_name: str
    confidence: float = Field(ge=0, le=1)
    sure: bool = Field(description=f"confidence of at least {SURE_CONFIDENCE}")
    candidates: list[CandidateOut] = Field(
        description=f"the {CANDIDATES} most likely classes with their share of the vote, best first"
    )


def prediction_out(prediction: Prediction | None) -> PredictionOut | None:
    if prediction is None:
        return None
    return PredictionOut(
        class_name=prediction.class_name,
        confidence=round(prediction.confidence, 4),
        sure=prediction.sure,
        candidates=[
            CandidateOut(class_name=c.class_name, probability=round(c.probability, 4))
            for c in prediction.candidates
        ],
    )


class Timings(BaseModel):
    decode: float
    encode: float
    search: float
    same_image: float = Field(description="checking the best results for the query's own photo")
    total: float


class CarOut(BaseModel):
    box: list[int] = Field(description="x1, y1, x2, y2 in the uploaded photo's pixels")
    score: float = Field(ge=0, le=1, description="how sure the model is that a car is there")


class SearchOut(BaseModel):
    query_id: str | None = Field(
        description="search this photo again without uploading it: GET /api/search/{query_id} "
        "(kept for a while after its last use); null for 'more like this'",
        examples=["kV3d0x8QeJc2rT1a"],
    )
    results: list[SearchResult]
    prediction: PredictionOut | None = Field(
        description="similarity-weighted vote of the nearest labelled images; null if none"
    )
    timings_ms: Timings
    query_box: list[int] = Field(
        description="the region searched: x1, y1, x2, y2 in the uploaded photo's pixels "
        "(upright, EXIF orientation applied); the whole photo when nothing was cut out",
        examples=[[412, 620, 1390, 1180]],
    )
    cars: list[CarOut] = Field(
        description="every car found in the photo, most confident first; send one's box as "
        "the 'box' field to search that one instead"
    )
    photo_size: list[int] = Field(
        description="width, height of the uploaded photo, upright: the pixels query_box and "
        "the cars' boxes are in; empty for 'more like this'",
        examples=[[2000, 1500]],
    )


class StatsOut(BaseModel):
    images: int
    classes: int
    model_id: str | None
    embedding_dim: int | None
    index_kind: str = Field(examples=["exact", "hnsw"])
    generation: int
    max_upload_bytes: int = Field(description="largest accepted upload")


class StatusOut(BaseModel):
    status: str


def image_url(image_id: int) -> str:
    return f"/api/images/{image_id}"


def thumbnail_url(image_id: int) -> str:
    return f"/api/images/{image_id}/thumbnail"


def search_result(hit: Hit) -> SearchResult:
    record = hit.record
    return SearchResult(
        id=record.id,
        score=round(hit.score, 6),
        class_name=record.class_name,
        make=record.make,
        model=record.model,
        body=record.body,
        year=record.year,
        image_url=image_url(record.id),
        thumbnail_url=thumbnail_url(record.id),
        same_image=hit.same_image,
    )


class CatalogImageOut(BaseModel):
    """An image of the catalog as the browse pages list it (``GET /api/images``)."""

    id: int
    class_name: str | None = Field(examples=["Audi TTS Coupe 2012"])
    make: str | None
    model: str | None
    body: str | None
    year: int | None
    width: int = Field(description="pixels, as stored")
    height: int
    image_url: str
    thumbnail_url: str


class ImageOut(CatalogImageOut):
    """An image of the catalog, as answered by ``POST /api/images``."""

    content_hash: str
    created: bool = Field(description="false when the same image was already in the catalog")


class ImagePageOut(BaseModel):
    total: int = Field(description="images matching the filters, on every page together")
    offset: int
    limit: int
    images: list[CatalogImageOut] = Field(description="this page, ordered by class then id")


class ClassOut(BaseModel):
    class_name: str
    make: str | None
    model: str | None
    body: str | None
    year: int | None
    images: int = Field(description="catalog images with this label")


class MakeOut(BaseModel):
    make: str
    images: int


class ClassesOut(BaseModel):
    classes: list[ClassOut] = Field(description="every labelled class, by name")
    makes: list[MakeOut] = Field(description="every make, by name")


def catalog_image_out(record: ImageRecord) -> CatalogImageOut:
    return CatalogImageOut(
        id=record.id,
        class_name=record.class_name,
        make=record.make,
        model=record.model,
        body=record.body,
        year=record.year,
        width=record.width,
        height=record.height,
        image_url=image_url(record.id),
        thumbnail_url=thumbnail_url(record.id),
    )


def image_out(record: ImageRecord, *, created: bool) -> ImageOut:
    listed = catalog_image_out(record).model_dump()
    return ImageOut(**listed, content_hash=record.content_hash, created=created)
