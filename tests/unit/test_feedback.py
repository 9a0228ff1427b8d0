"""Recording votes (checked, photo kept once, nothing left by a failure) and what they add up
to (labels, the export's sides, the summary); no server, no model."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from revsearch.catalog.catalog import Catalog
from revsearch.catalog.db import CatalogDB
from revsearch.catalog.feedback import NewFeedback
from revsearch.errors import BadParameterError, DiskFullError, NotFoundError
from revsearch.feedback.record import FEEDBACK_DIR, FeedbackRecorder, Vote
from revsearch.feedback.report import labelled_photos, summary, write_manifest
from revsearch.stores import local as local_store
from tests.support.rows import images, unit_vectors
from tests.unit.test_schema import old_catalog

AUDI, BMW, CHEVY = "Audi TTS Coupe 2012", "BMW M3 Coupe 2012", "Chevrolet Malibu Sedan 2007"
QUERY = "AAAAbbbbCCCCdddd"


def photo(colour: str = "red", fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def recorder(catalog: Catalog) -> FeedbackRecorder:
    """Images 1-2 are Audis, 3 a BMW, 4 a Chevrolet."""
    rows = [*images(2, class_name=AUDI), *images(1, 2, BMW), *images(1, 3, CHEVY)]
    catalog.upsert(rows, unit_vectors(4))
    return FeedbackRecorder(catalog)


def kept(catalog: Catalog) -> list[Path]:
    folder = catalog.path / FEEDBACK_DIR
    return sorted(folder.iterdir()) if folder.exists() else []


def test_votes_are_stored_with_their_photo_kept_once(
    recorder: FeedbackRecorder, catalog: Catalog
) -> None:
    data = photo()
    up = recorder.record(Vote("up", query_id=QUERY, result_id=3), data)
    fix = recorder.record(Vote("down", query_id=QUERY, class_name=BMW, predicted_class=AUDI), data)
    similar = recorder.record(Vote("down", query_image=1, result_id=4))
    assert up < fix < similar
    name = f"{FEEDBACK_DIR}/{hashlib.sha256(data).hexdigest()}.jpg"
    assert kept(catalog) == [catalog.path / name]
    assert (catalog.path / name).read_bytes() == data
    first, second, third = catalog.feedback()
    assert (first.photo, first.result_class, first.on_answer) == (name, BMW, False)
    assert (second.photo, second.class_name, second.predicted_class) == (name, BMW, AUDI)
    assert (third.photo, third.query_image, third.query_id) == (None, 1, None)
    assert second.on_answer and first.created_at
    png = recorder.record(Vote("up", query_id=QUERY, predicted_class=AUDI), photo("blue", "PNG"))
    assert catalog.feedback()[-1].id == png
    assert sorted(p.suffix for p in kept(catalog)) == [".jpg", ".png"]


BAD_VOTES = {
    "no search": (Vote("up"), BadParameterError, "exactly one of"),
    "two searches": (Vote("up", query_id=QUERY, query_image=1), BadParameterError, "exactly one"),
    "a bad verdict": (Vote("meh", query_image=1), BadParameterError, "verdict"),  # type: ignore[arg-type]
    "an unknown class": (Vote("down", query_image=1, class_name="Audi"), BadParameterError,
                         "not a class"),
    "an unknown predicted class": (Vote("up", query_image=1, predicted_class="x"),
                                   BadParameterError, "predicted_class"),
    "an unknown result": (Vote("up", query_image=1, result_id=99), NotFoundError, "99"),
    "an unknown query image": (Vote("up", query_image=98), NotFoundError, "98"),
    "an up naming another class": (Vote("up", query_image=1, class_name=BMW,
                                        predicted_class=AUDI), BadParameterError, "confirms"),
    "a down naming the predicted class": (Vote("down", query_image=1, class_name=AUDI,
                                               predicted_class=AUDI), BadParameterError, "rejects"),
    "an up on a result naming another class": (Vote("up", query_image=1, result_id=3,
                                                    class_name=AUDI), BadParameterError, BMW),
    "a down on a result naming a class": (Vote("down", query_image=1, result_id=3,
                                               class_name=AUDI), BadParameterError, "names no"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_VOTES)
def test_bad_votes_store_nothing(recorder: FeedbackRecorder, catalog: Catalog, case: str) -> None:
    vote, error, message = BAD_VOTES[case]
    data = photo() if vote.query_id else None
    with pytest.raises(error, match=message):
        recorder.record(vote, data)
    assert catalog.feedback() == [] and kept(catalog) == []


def test_a_photo_that_cannot_be_read_back_is_refused(recorder: FeedbackRecorder) -> None:
    with pytest.raises(Exception, match="cannot be read back"):
        recorder.record(Vote("up", query_id=QUERY), b"not a photo")


def test_a_failed_row_removes_the_photo_it_wrote(
    recorder: FeedbackRecorder, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept_before = recorder.record(Vote("up", query_id=QUERY), photo("green"))

    def full(*args: object) -> int:
        raise DiskFullError("disk full: test")

    monkeypatch.setattr(catalog, "add_feedback", full)
    with pytest.raises(DiskFullError):
        recorder.record(Vote("up", query_id=QUERY), photo("red"))
    with pytest.raises(DiskFullError):  # a photo kept for an earlier vote stays
        recorder.record(Vote("down", query_id=QUERY), photo("green"))
    assert [r.id for r in catalog.feedback()] == [kept_before]
    assert len(kept(catalog)) == 1
    assert not list((catalog.path / FEEDBACK_DIR).glob(".*"))  # no temporary file either


def test_a_full_disk_while_keeping_the_photo_stores_nothing(
    recorder: FeedbackRecorder, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_store.os, "replace", no_space)  # the photo's atomic rename
    with pytest.raises(DiskFullError):
        recorder.record(Vote("up", query_id=QUERY), photo())
    assert catalog.feedback() == []
    assert not any((catalog.path / FEEDBACK_DIR).iterdir())  # its temporary file is gone too


def test_labels_exports_and_summary(recorder: FeedbackRecorder, catalog: Catalog) -> None:
    red, blue, green, white = photo("red"), photo("blue"), photo("green"), photo("white")
    record = recorder.record
    record(Vote("up", query_id=QUERY, result_id=1), red)  # a result's class: Audi
    record(Vote("up", query_id=QUERY, predicted_class=BMW), red)  # the answer's: stronger
    record(Vote("down", query_id=QUERY, predicted_class=AUDI, class_name=CHEVY), blue)
    record(Vote("up", query_id=QUERY, predicted_class=AUDI, class_name=AUDI), blue)  # latest wins
    record(Vote("down", query_id=QUERY, predicted_class=AUDI, class_name=BMW), green)
    record(Vote("up", query_id=QUERY, result_id=4, class_name=CHEVY), green)  # weaker, though later
    record(Vote("down", query_id=QUERY, predicted_class=AUDI), white)  # labels nothing
    record(Vote("down", query_id=QUERY, result_id=4), white)
    record(Vote("up", query_image=2, result_id=1))  # no photo of its own

    rows, missing = labelled_photos(catalog.feedback(), catalog.path, eval_share=0)
    assert missing == []
    assert [(row.class_name, row.share, row.feedback_ids) for row in rows] == [
        (BMW, "train", (1, 2)),
        (AUDI, "train", (3, 4)),
        (BMW, "train", (5, 6)),
    ]
    assert all(row.image.is_absolute() and row.image.is_file() for row in rows)
    everything, _ = labelled_photos(catalog.feedback(), catalog.path, eval_share=1)
    assert {row.share for row in everything} == {"eval"}
    half, _ = labelled_photos(catalog.feedback(), catalog.path, eval_share=0.5)
    for row in half:  # by the photo's hash: the same side on every export
        assert row.share == ("eval" if int(row.image.stem[:8], 16) < 16**8 / 2 else "train")

    output = catalog.path.parent / "out" / "feedback.csv"
    assert write_manifest(rows, output) == 3
    with open(output, newline="") as handle:
        written = list(csv.DictReader(handle))
    assert written[0] == {
        "image": str(rows[0].image), "class_name": BMW, "retrieval_split": "train",
        "stanford_split": "train", "feedback_ids": "1 2",
    }  # fmt: skip

    rows[1].image.unlink()
    rows_left, missing = labelled_photos(catalog.feedback(), catalog.path)
    assert missing == [rows[1].image] and len(rows_left) == 2

    info = summary(catalog.feedback(), catalog.path)
    assert info["feedback"] == 9
    assert info["verdicts"] == {"up": 5, "down": 4}
    assert info["on_answer"] == {"up": 2, "down": 3}
    assert info["on_results"] == {"up": 3, "down": 1}
    assert info["searches"] == {"upload": 8, "similar": 1}
    assert info["answers"] == {"confirmed": 2, "corrected": 2, "rejected": 1}
    assert info["photos"] == 4 and info["labelled_photos"] == 2  # one file was removed
    assert info["most_corrected"] == [{"predicted_class": AUDI, "corrections": 2}]
    assert {(c["class_name"], c["count"]) for c in info["corrections"]} == {(CHEVY, 1), (BMW, 1)}
    assert info["first"] <= info["last"]


def test_an_empty_summary(catalog: Catalog) -> None:
    info = summary(catalog.feedback(), catalog.path)
    assert info["feedback"] == 0 and info["first"] is None and info["corrections"] == []


def test_the_eval_share_must_be_a_share(catalog: Catalog) -> None:
    with pytest.raises(BadParameterError, match="between 0 and 1"):
        labelled_photos([], catalog.path, eval_share=1.5)


def test_a_catalog_older_than_feedback_read_as_it_is_has_none(tmp_path: Path) -> None:
    """A read-only process cannot migrate a v3 catalog: it reads it without feedback."""
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, 3)
    with closing(CatalogDB(path, read_only=True)) as db:
        assert db.feedback() == [] and db.has_class("Audi TTS Coupe 2012")
    with closing(CatalogDB(path)) as db:  # a writable open migrates: feedback can be stored
        assert db.add_feedback(NewFeedback("up", query_image=1)) == 1
        assert [row.verdict for row in db.feedback()] == ["up"]
        assert db.generation == 4  # feedback is not a change of the catalog
