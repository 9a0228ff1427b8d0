"""Distributed batch encoding with Ray Data: the single-process indexer, its chunks on actors.

Only the per-chunk work (read, hash, skip known, decode, encode) moves to a pool of Ray
actors, each loading the encoder once with one ONNX Runtime thread: :class:`RayEngine` is
the :class:`Indexer`'s chunk engine. The driver keeps everything that must happen once and
in order in :meth:`Indexer.run`: the model guard, failures reported not fatal, and
committed batches through ``Catalog.upsert``, so the configured vector backend receives the
vectors and a killed run resumes exactly as with the local engine. Output order is
preserved, so ids come out as with the local engine.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from revsearch import errors
from revsearch.catalog.catalog import Catalog
from revsearch.config import DecodeLimits
from revsearch.distributed.cluster import LOCAL, import_ray, ray_session, resolve_address
from revsearch.encoder.onnx import OnnxEncoder
from revsearch.errors import ModelMismatchError, RayError, RevSearchError
from revsearch.indexing import CHUNK, ChunkWorker, Indexer, Prepared
from revsearch.preprocess import DEFAULT_LIMITS
from revsearch.sources import ImageSource

CPUS_PER_ACTOR = 0.5  # fractional, so actors never starve Ray Data's own tasks on small CPUs
ROWS_PER_BLOCK = 4 * CHUNK  # small blocks spread the input over the actor pool early
Batch = dict[str, np.ndarray]
WORKER_ERROR = re.compile(r"revsearch\.errors\.(\w+): (.*)")


class ChunkEncoder:
    """Ray Data actor: loads the encoder once, then reads, hashes, decodes and encodes chunks.

    The model file is opened by path on the worker, so it must be reachable there; its
    model id is checked against the driver's so a stale copy cannot write foreign vectors.
    """

    def __init__(
        self,
        model_path: str,
        model_id: str,
        known: frozenset[str],
        limits: DecodeLimits,
        read: Callable[[str], bytes] | None = None,
    ) -> None:
        encoder = OnnxEncoder(model_path, threads=1)
        if encoder.model_id != model_id:
            raise ModelMismatchError(
                f"{model_path} on worker {os.uname().nodename} is model '{encoder.model_id}', "
                f"the driver's is '{model_id}'"
            )
        self._worker = ChunkWorker(encoder, limits=limits, read=read)
        self._known = known

    def __call__(self, batch: Batch) -> Batch:
        sources = [
            ImageSource(str(path), str(label) or None)
            for path, label in zip(batch["path"], batch["class_name"], strict=True)
        ]
        prepared, vectors = self._worker(sources, self._known)
        return to_columns(prepared, vectors)


def to_columns(prepared: Sequence[Prepared], vectors: np.ndarray) -> Batch:
    """Prepared chunk -> columns Ray Data can carry; ``vector`` is zero where none was made."""
    encoded = np.array([p.error is None and not p.known for p in prepared], dtype=bool)
    full = np.zeros((len(prepared), vectors.shape[1]), np.float32)
    full[encoded] = vectors
    return {
        "path": np.array([p.source.path for p in prepared], dtype=object),
        "class_name": np.array([p.source.class_name or "" for p in prepared], dtype=object),
        "content_hash": np.array([p.content_hash for p in prepared], dtype=object),
        "width": np.array([p.width for p in prepared], dtype=np.int64),
        "height": np.array([p.height for p in prepared], dtype=np.int64),
        "known": np.array([p.known for p in prepared], dtype=bool),
        "error": np.array([str(p.error) if p.error else "" for p in prepared], dtype=object),
        "error_type": np.array([type(p.error).__name__ for p in prepared], dtype=object),
        "encoded": encoded,
        "vector": full,
    }


def from_columns(batch: Batch) -> tuple[list[Prepared], np.ndarray]:
    """The inverse of :func:`to_columns`: what :meth:`Indexer.run` consumes."""
    prepared = [
        Prepared(
            ImageSource(str(path), str(label) or None),
            str(content_hash),
            int(width),
            int(height),
            error=_error(str(error_type), str(error)) if error else None,
            known=bool(known),
        )
        for path, label, content_hash, width, height, known, error, error_type in zip(
            batch["path"],
            batch["class_name"],
            batch["content_hash"],
            batch["width"],
            batch["height"],
            batch["known"],
            batch["error"],
            batch["error_type"],
            strict=True,
        )
    ]
    vectors = np.asarray(batch["vector"], dtype=np.float32)[np.asarray(batch["encoded"], bool)]
    return prepared, vectors


def _error(type_name: str, message: str) -> RevSearchError:
    """Rebuild a worker's error with its class, so it maps to the same exit code or status."""
    cls = getattr(errors, type_name, None)
    if not (isinstance(cls, type) and issubclass(cls, RevSearchError)):
        return RayError(message)
    try:
        return cls(message)
    except TypeError:  # a class with another constructor: keep the message
        return RayError(message)


class RayEngine:
    """Chunks on ``workers`` Ray actors (None: one per CPU of the machine or the cluster).

    ``address``: ``"local"`` starts a private Ray instance for the run; ``None`` means
    ``RAY_ADDRESS`` if set, else local; anything else (``head:6379``, ``auto``) joins that
    cluster, whose workers must reach the model file and the image paths. Ray Client
    (``ray://``) is refused: Ray Data needs the driver to be a cluster node.
    """

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        cpus_per_actor: float = CPUS_PER_ACTOR,
    ) -> None:
        import_ray()  # fail before anything is written when the extra is missing
        self.actors = workers
        self.address = resolve_address(address)
        self.cpus_per_actor = cpus_per_actor

    def __call__(
        self, worker: ChunkWorker, sources: Sequence[ImageSource], known: AbstractSet[str]
    ) -> Iterator[tuple[list[Prepared], np.ndarray]]:
        """Encoded chunks in input order, computed by the actor pool."""
        if not sources:
            return
        cores = os.cpu_count() or 1
        local_cpus = max(cores, math.ceil((self.actors or cores) * self.cpus_per_actor))
        with ray_session(
            self.address, num_cpus=local_cpus if self.address == LOCAL else None
        ) as ray:
            actors = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = True  # same ids as the local engine
            context.enable_progress_bars = False  # the caller shows its own
            rows = [{"path": s.path, "class_name": s.class_name or ""} for s in sources]
            dataset = ray.data.from_items(
                rows, override_num_blocks=math.ceil(len(rows) / ROWS_PER_BLOCK)
            ).map_batches(
                ChunkEncoder,
                fn_constructor_kwargs={
                    "model_path": str(worker.encoder.path.resolve()),
                    "model_id": worker.encoder.model_id,
                    "known": frozenset(known),
                    "limits": worker.limits,
                    "read": worker.read,
                },
                batch_size=CHUNK,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=self.cpus_per_actor,
            )
            try:
                for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    yield from_columns(batch)
            except ray.exceptions.RayError as exc:
                raise _worker_error(exc) from None


class RayIndexer(Indexer):
    """:class:`Indexer` with a :class:`RayEngine`: its chunks encoded by Ray actors."""

    def __init__(
        self,
        catalog: Catalog,
        encoder: OnnxEncoder,
        *,
        workers: int | None = None,
        address: str | None = None,
        cpus_per_actor: float = CPUS_PER_ACTOR,
        limits: DecodeLimits = DEFAULT_LIMITS,
        read: Callable[[str], bytes] | None = None,
    ) -> None:
        engine = RayEngine(workers, address, cpus_per_actor)
        super().__init__(catalog, encoder, limits=limits, read=read, engine=engine)


def _worker_error(exc: Exception) -> RevSearchError:
    """The worker's own error when Ray carries it (as an object, or only as the last line of
    an actor's death notice, e.g. a model file missing on a worker), else Ray's message."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, RevSearchError):
            return cause
        cause = getattr(cause, "cause", None) or cause.__cause__
    last = str(exc).strip().splitlines()[-1]
    if match := WORKER_ERROR.fullmatch(last):
        return _error(*match.groups())
    return RayError(f"ray: {last}")
