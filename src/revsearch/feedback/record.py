"""Recording one verdict: checked against the catalog, the searched photo kept with it.

The input is anonymous, so nothing free-form is stored: class names must be the catalog's
own labels and image ids must exist. The photo of an uploaded search is kept once per
content (``<catalog>/feedback/<sha256>.<ext>``, several verdicts on one search share it),
written atomically *before* its row: a crash or a full disk leaves at most a whole file no
row names (and none when this process wrote it: it is removed again), never a row naming
a missing or half-written file.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from PIL import Image

from revsearch.api.writes import SUFFIXES
from revsearch.catalog.catalog import Catalog
from revsearch.catalog.feedback import NewFeedback
from revsearch.errors import BadParameterError, InvalidImageError, NotFoundError
from revsearch.preprocess import ACCEPTED_FORMATS
from revsearch.stores.base import content_name
from revsearch.stores.local import LocalStore

FEEDBACK_DIR = "feedback"  # below the catalog folder
VERDICTS = ("up", "down")


@dataclass(frozen=True)
class Vote:
    """What a user said: ``verdict`` on the answer (``result_id`` None) or on one result of
    a search, which is an upload (``query_id``) or "more like this" (``query_image``)."""

    verdict: Literal["up", "down"]
    query_id: str | None = None
    query_image: int | None = None
    result_id: int | None = None
    class_name: str | None = None  # "it is this class": a correction, or the confirmed answer
    predicted_class: str | None = None  # the answer the user was shown


class FeedbackRecorder:
    """Checks and stores votes for one catalog; thread-safe."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.folder = catalog.path / FEEDBACK_DIR
        self._photos = LocalStore(self.folder)
        # One vote at a time: "photo already kept?" -> write it -> its row is one step, so
        # a failed row removes only a file no other row of this process names.
        self._lock = threading.Lock()

    def record(self, vote: Vote, photo: bytes | None = None) -> int:
        """Store ``vote`` (with the uploaded search's ``photo``); returns the feedback id.

        BadParameterError (an unknown class, a contradiction), NotFoundError (an image id
        the catalog lacks), DiskFullError or ReadOnlyCatalogError; nothing is stored then.
        """
        if photo is not None and vote.query_id is None:
            raise BadParameterError("only an uploaded search (query_id) has a photo to keep")
        entry = self._checked(vote)
        with self._lock:
            kept, written = self._keep(photo) if photo is not None else (None, None)
            try:
                return self.catalog.add_feedback(replace(entry, photo=kept))
            except BaseException:
                if written is not None:
                    written.unlink(missing_ok=True)
                raise

    def _checked(self, vote: Vote) -> NewFeedback:
        if vote.verdict not in VERDICTS:
            raise BadParameterError(f"verdict must be 'up' or 'down', not {vote.verdict!r}")
        if (vote.query_id is None) == (vote.query_image is None):
            raise BadParameterError(
                "give exactly one of query_id (an uploaded search) and query_image "
                "(a 'more like this' search)"
            )
        named = {"class_name": vote.class_name, "predicted_class": vote.predicted_class}
        for field, name in named.items():
            if name is not None and not self.catalog.has_class(name):
                raise BadParameterError(f"{field}: {name!r} is not a class of this catalog")
        wanted = [i for i in (vote.query_image, vote.result_id) if i is not None]
        found = self.catalog.get(wanted)
        for image_id in wanted:
            if image_id not in found:
                raise NotFoundError(f"no image with id {image_id}")
        result_class = found[vote.result_id].class_name if vote.result_id is not None else None
        _check_consistent(vote, result_class)
        return NewFeedback(
            verdict=vote.verdict,
            query_id=vote.query_id,
            query_image=vote.query_image,
            result_id=vote.result_id,
            result_class=result_class,
            class_name=vote.class_name,
            predicted_class=vote.predicted_class,
        )

    def _keep(self, photo: bytes) -> tuple[str, Path | None]:
        """(the photo's name below the catalog, the file if this call wrote it)."""
        name = content_name(photo, photo_suffix(photo))
        target = self.folder / name
        written = None
        if not target.is_file():  # the same photo is kept once
            written = Path(self._photos.put(photo, target.suffix[1:]))
        return f"{FEEDBACK_DIR}/{name}", written


def _check_consistent(vote: Vote, result_class: str | None) -> None:
    """A named class must agree with the verdict: an "up" confirms what it is about (the
    predicted class, or the result's class), a "down" on the answer names another class (the
    right one), a "down" on a result names none (a poor match says nothing of the photo)."""
    if vote.class_name is None:
        return
    if vote.result_id is not None and vote.verdict == "down":
        raise BadParameterError("a 'down' on a result names no class: leave class_name null")
    judged = vote.predicted_class if vote.result_id is None else result_class
    what = "the predicted class" if vote.result_id is None else "the result's class"
    if judged is None:
        return
    if vote.verdict == "up" and vote.class_name != judged:
        raise BadParameterError(f"an 'up' confirms {what}: class_name must be {judged!r}")
    if vote.verdict == "down" and vote.class_name == judged:
        raise BadParameterError(f"a 'down' rejects {what}: class_name must name another class")


def photo_suffix(photo: bytes) -> str:
    """The file suffix of the photo's format, read from its header (the search decoded it)."""
    try:
        with Image.open(io.BytesIO(photo), formats=ACCEPTED_FORMATS) as image:
            fmt = image.format or ""
    except Exception:  # any decoder's complaint: not a photo we can keep
        raise InvalidImageError("the searched photo cannot be read back to keep it") from None
    if fmt not in SUFFIXES:
        raise InvalidImageError(f"{fmt or 'this'} photos cannot be kept")
    return SUFFIXES[fmt]
