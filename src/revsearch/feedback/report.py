"""What stored feedback adds up to: a labelled manifest of the kept photos, and a summary.

A photo's label is what its verdicts say the car is, the strongest statement winning (the
latest among equals): a class named on the answer (a correction, or the confirmed answer)
beats an "up" on the answer's predicted class, which beats an "up" on a result (its class).
A "down" naming nothing, and any "down" on a result, labels nothing.

Each photo lands in the evaluation share or the training share by its content hash: the
same photo stays on its side however much feedback comes later, so a model trained on one
export is never scored on its own training photos by the next.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from revsearch.catalog.feedback import FeedbackRecord
from revsearch.errors import BadParameterError, disk_full

DEFAULT_EVAL_SHARE = 0.2
TOP_CORRECTIONS = 10
# The project's manifest columns that ``revsearch eval`` and ``revsearch train`` read, and
# the feedback behind each row.
MANIFEST_COLUMNS = ("image", "class_name", "retrieval_split", "stanford_split", "feedback_ids")
# Split names as the two protocols spell them: open-set (retrieval_split), product
# (stanford_split, with --protocol stanford or a recipe's split = "stanford-train").
SPLITS = {"eval": ("eval", "test"), "train": ("train", "train")}


@dataclass(frozen=True)
class LabelledPhoto:
    image: Path  # absolute
    class_name: str
    share: str  # "train" or "eval"
    feedback_ids: tuple[int, ...]  # the verdicts that labelled it, oldest first


def label(record: FeedbackRecord) -> tuple[int, str] | None:
    """(strength, class) this verdict gives its photo, or None when it names none."""
    if record.on_answer and record.class_name:
        return 2, record.class_name
    if record.on_answer and record.verdict == "up" and record.predicted_class:
        return 1, record.predicted_class
    if not record.on_answer and record.verdict == "up":
        named = record.class_name or record.result_class  # the page sends the result's class
        return (0, named) if named else None
    return None


def labelled_photos(
    records: Iterable[FeedbackRecord], catalog: Path, eval_share: float = DEFAULT_EVAL_SHARE
) -> tuple[list[LabelledPhoto], list[Path]]:
    """(one row per labelled kept photo, in order of first feedback; kept photos whose file
    is missing). ``records``: the catalog's feedback, oldest first."""
    if not 0 <= eval_share <= 1:
        raise BadParameterError(f"the evaluation share must be between 0 and 1, not {eval_share}")
    best: dict[str, tuple[tuple[int, int], str]] = {}
    votes: dict[str, list[int]] = {}
    for record in records:
        found = label(record) if record.photo else None
        if record.photo is None or found is None:
            continue
        strength, class_name = found
        votes.setdefault(record.photo, []).append(record.id)
        if record.photo not in best or (strength, record.id) > best[record.photo][0]:
            best[record.photo] = ((strength, record.id), class_name)
    folder = Path(os.path.abspath(catalog))
    rows, missing = [], []
    for photo, ids in votes.items():
        path = folder / photo
        if not path.is_file():
            missing.append(path)
            continue
        share = "eval" if _position(path) < eval_share else "train"
        rows.append(LabelledPhoto(path, best[photo][1], share, tuple(ids)))
    return rows, missing


def _position(photo: Path) -> float:
    """Where the photo's SHA-256 (its file name) falls in [0, 1): a fixed, even draw."""
    try:
        return int(photo.stem[:8], 16) / 16**8
    except ValueError:  # not a name the recorder gave: any fixed draw will do
        return int(hashlib.sha256(photo.name.encode()).hexdigest()[:8], 16) / 16**8


def write_manifest(rows: Iterable[LabelledPhoto], output: Path) -> int:
    """Write the manifest CSV atomically (a failed export leaves the old file); returns rows."""
    output = Path(output)
    if output.is_dir():
        raise BadParameterError(f"{output} is a folder: give the manifest's file name")
    count = 0
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(MANIFEST_COLUMNS)
                for row in rows:
                    retrieval, stanford = SPLITS[row.share]
                    ids = " ".join(map(str, row.feedback_ids))
                    writer.writerow((str(row.image), row.class_name, retrieval, stanford, ids))
                    count += 1
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        if full := disk_full(exc):
            raise full from None
        raise BadParameterError(f"cannot write {output}: {exc.strerror or exc}") from None
    return count


def summary(records: list[FeedbackRecord], catalog: Path) -> dict[str, Any]:
    """Counts by verdict and kind, what became of the answers, the corrections made most."""
    answers = [r for r in records if r.on_answer]
    results = [r for r in records if not r.on_answer]
    corrected = [r for r in answers if r.verdict == "down" and r.class_name]
    pairs = Counter((r.predicted_class, r.class_name) for r in corrected if r.predicted_class)
    wrong = Counter(r.predicted_class for r in corrected if r.predicted_class)
    photos, _ = labelled_photos(records, catalog, DEFAULT_EVAL_SHARE)
    return {
        "feedback": len(records),
        "verdicts": _verdicts(records),
        "on_answer": _verdicts(answers),
        "on_results": _verdicts(results),
        "searches": {
            "upload": sum(r.query_id is not None for r in records),
            "similar": sum(r.query_image is not None for r in records),
        },
        "answers": {
            "confirmed": sum(r.verdict == "up" for r in answers),
            "corrected": len(corrected),
            "rejected": sum(r.verdict == "down" and not r.class_name for r in answers),
        },
        "photos": len({r.photo for r in records if r.photo}),
        "labelled_photos": len(photos),
        "most_corrected": [
            {"predicted_class": name, "corrections": count}
            for name, count in wrong.most_common(TOP_CORRECTIONS)
        ],
        "corrections": [
            {"predicted_class": predicted, "class_name": named, "count": count}
            for (predicted, named), count in pairs.most_common(TOP_CORRECTIONS)
        ],
        "first": records[0].created_at if records else None,
        "last": records[-1].created_at if records else None,
    }


def _verdicts(records: list[FeedbackRecord]) -> dict[str, int]:
    return {verdict: sum(r.verdict == verdict for r in records) for verdict in ("up", "down")}
