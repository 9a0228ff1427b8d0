"""Train the localiser: a small head on the frozen encoder's feature maps that finds cars.

The head reads two maps of the encoder's own trunk (stride 16 and stride 32), computed in a
small pass over the photo squashed to ``LOCATE_SIZE`` (128 px: about 0.4 of the cost of the
embedding's pass at 240, as the trunk takes any side). It is trained on composites made here: cars
pasted at random scale, position and aspect onto procedural street scenes, scikit-image's
sample photos and plain textures, with non-car objects pasted beside them as distractors.
The cars come from images that are in *both* protocols' training sets (classes 1-98 of the
Stanford train split), so the head is valid whichever protocol the model is scored on.

The trained head is appended to the encoder's ONNX graph (output ``localizer``), so serving
needs nothing but ONNX Runtime; :mod:`revsearch.localize` reads that output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper
from PIL import Image
from torch import nn

from revsearch.encoder.spec import METADATA_KEY
from revsearch.eval.framing import paste, street_scene
from revsearch.localize import (
    LOCALIZER_OUTPUT,
    LOCALIZER_SWITCH,
    LOCATE_SIZE,
    Box,
    boxes_from_map,
    iou,
)
from revsearch.preprocess import Transform, load_image

LONG_SIDE = 640
FRAME_ASPECTS = (4 / 3, 3 / 4, 16 / 9, 1.0, 3 / 2)
CAR_ASPECTS = (1.2, 2.2)
HIDDEN = 64
CENTRAL = 0.4  # cells inside this central share of a box are its positives
HEAD_PREFIX = "loc."  # names of the head's nodes and weights inside the encoder's graph
IGNORED = 0.7  # the rest of this central share is ignored; a car's outer cells are negatives


def training_cars(manifest: Path) -> list[str]:
    """Images in the training set of both protocols: classes 1-98 of the Stanford train split."""
    import csv

    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        str(manifest.parent / row["image"])
        for row in rows
        if row.get("retrieval_split") == "train" and row.get("stanford_split") == "train"
    ]


def sample_photos() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(backgrounds, distractors) from the photos scikit-image ships in its wheel."""
    from skimage import data

    def rgb(array: np.ndarray) -> np.ndarray:
        array = np.asarray(array)
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        return np.ascontiguousarray(array[..., :3]).astype(np.uint8)

    names = ["astronaut", "coffee", "rocket", "chelsea", "camera", "grass", "gravel", "brick",
             "moon", "hubble_deep_field", "retina", "immunohistochemistry", "clock", "coins",
             "horse", "text", "page"]  # fmt: skip
    backgrounds = [rgb(getattr(data, name)()) for name in names]
    room = rgb(data.stereo_motorcycle()[0])
    backgrounds.append(room)
    distractors = [rgb(getattr(data, n)()) for n in ("astronaut", "chelsea", "coffee", "rocket",
                                                     "clock", "horse", "coins")]  # fmt: skip
    distractors.append(room)
    return backgrounds, distractors


def random_crop(rng: np.random.Generator, photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A random region of ``photo`` (flipped, tinted) stretched to ``size`` (width, height)."""
    import cv2

    h, w = photo.shape[:2]
    share = rng.uniform(0.4, 1.0)
    ch, cw = max(8, int(h * share)), max(8, int(w * share * rng.uniform(0.7, 1.3)))
    cw = min(cw, w)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    region = photo[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        region = region[:, ::-1]
    tint = rng.uniform(0.7, 1.3, 3)
    region = np.clip(region.astype(np.float32) * tint, 0, 255).astype(np.uint8)
    return cv2.resize(np.ascontiguousarray(region), size, interpolation=cv2.INTER_LINEAR)


def _overlaps(box: Box, others: Sequence[Box]) -> bool:
    return any(iou(np.asarray(box, float), np.asarray(o, float)) > 0.2 for o in others)


def composite(
    rng: np.random.Generator,
    cars: Sequence[str],
    backgrounds: Sequence[np.ndarray],
    distractors: Sequence[np.ndarray],
) -> tuple[Image.Image, list[Box]]:
    """One training frame and the boxes of the cars in it (pixels, x2/y2 exclusive)."""
    aspect = FRAME_ASPECTS[int(rng.integers(len(FRAME_ASPECTS)))]
    width, height = (
        (LONG_SIDE, round(LONG_SIDE / aspect))
        if aspect >= 1
        else (round(LONG_SIDE * aspect), LONG_SIDE)
    )
    pick = rng.random()
    if pick < 0.2:  # already a tight crop, the catalog's kind of image, perhaps cut a little
        car = load_image(cars[int(rng.integers(len(cars)))])
        if rng.random() < 0.5:
            size = np.asarray(car.size, float)
            left, top = rng.uniform(0, 0.1, 2) * size
            right, bottom = (1 - rng.uniform(0, 0.1, 2)) * size
            car = car.crop((int(left), int(top), int(right), int(bottom)))
        return car, [(0, 0, car.width, car.height)]
    if pick < 0.55:
        scene = street_scene(rng, (width, height))
    elif pick < 0.9:
        scene = random_crop(rng, backgrounds[int(rng.integers(len(backgrounds)))], (width, height))
    else:
        scene = np.full((height, width, 3), rng.uniform(30, 230, 3), np.float32)
        scene = np.clip(scene + rng.normal(0, 20, scene.shape), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 3))):  # distractors: things that are not cars
        w = int(width * rng.uniform(0.1, 0.45))
        h = int(w * rng.uniform(0.5, 1.5))
        if h >= height:
            continue
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        patch = random_crop(rng, distractors[int(rng.integers(len(distractors)))], (w, h))
        paste(scene, Image.fromarray(patch), (x, y, x + w, y + h))
    count = int(rng.choice([0, 1, 1, 1, 1, 1, 1, 2, 2, 3]))
    boxes: list[Box] = []
    for _ in range(count):
        for _attempt in range(10):
            share = math.exp(rng.uniform(math.log(0.15), math.log(0.97)))
            if boxes:
                share *= 0.7
            w = max(16, int(width * share))
            h = min(int(w / rng.uniform(*CAR_ASPECTS)), int(height * 0.97))
            if h < 12:
                continue
            x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            box = (x, y, x + w, y + h)
            if not _overlaps(box, boxes):
                boxes.append(box)
                break
    for box in boxes:
        paste(scene, load_image(cars[int(rng.integers(len(cars)))]), box)
    return Image.fromarray(scene), boxes


def with_side(model: onnx.ModelProto, side: int | str) -> onnx.ModelProto:
    """A copy of ``model`` taking side x side photos (a name instead of a number: any side)."""
    resized = onnx.ModelProto()
    resized.CopyFrom(model)
    del resized.graph.value_info[:]  # the exporter's shapes hold for its side only
    for dim in resized.graph.input[0].type.tensor_type.shape.dim[2:]:
        dim.Clear()
        if isinstance(side, int):
            dim.dim_value = side
        else:
            dim.dim_param = side
    return resized


def feature_outputs(model: onnx.ModelProto, side: int) -> tuple[str, str]:
    """The names of the last stride-16 map and of the map the embedding is pooled from."""
    inferred = onnx.shape_inference.infer_shapes(with_side(model, side))
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in inferred.graph.value_info
    }
    pooled = next(n.input[0] for n in reversed(model.graph.node) if n.op_type in
                  ("ReduceMean", "GlobalAveragePool"))  # fmt: skip
    side16 = math.ceil(side / 16)
    stride16 = [
        n.output[0]
        for n in model.graph.node
        if len(shapes.get(n.output[0], [])) == 4 and shapes[n.output[0]][-1] == side16
        and n.op_type != "QuantizeLinear" and not n.output[0].startswith(HEAD_PREFIX)
    ]  # fmt: skip
    return stride16[-1], pooled


def exposed_session(
    model: onnx.ModelProto, names: Sequence[str], threads: int = 0
) -> ort.InferenceSession:
    """An ORT session of ``model`` that also returns the tensors ``names``."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    for name in names:
        exposed.graph.output.append(
            helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(
        exposed.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


class Head(nn.Module):
    """Per cell of the stride-16 grid: a car-centre logit and four log distances to its box."""

    def __init__(self, channels16: int, channels32: int) -> None:
        super().__init__()
        self.reduce16 = nn.Conv2d(channels16, HIDDEN, 1)
        self.reduce32 = nn.Conv2d(channels32, HIDDEN, 1)
        self.conv1 = nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1)
        self.conv2 = nn.Conv2d(HIDDEN, HIDDEN, 3, padding=1)
        self.out = nn.Conv2d(HIDDEN, 5, 1)

    def forward(self, f16: torch.Tensor, f32: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate(
            self.reduce32(f32), size=f16.shape[-2:], mode="bilinear", align_corners=True
        )
        h = torch.relu(self.reduce16(f16) + up)
        h = torch.relu(self.conv1(h))
        h = torch.relu(self.conv2(h))
        return self.out(h)


def targets(boxes: Sequence[np.ndarray], grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(objectness (G,G), weight (G,G), box per cell (4,G,G)) for normalised boxes.

    A cell is positive when its centre lies in the central part of a box (the smallest box
    wins), ignored around that, and negative elsewhere, the car's outer cells included: a
    tight crop's edges must not look like the centre of another car.
    """
    centres = (np.arange(grid) + 0.5) / grid
    cx, cy = np.meshgrid(centres, centres)
    objectness = np.zeros((grid, grid), np.float32)
    weight = np.ones((grid, grid), np.float32)
    assigned = np.zeros((4, grid, grid), np.float32)
    area = np.full((grid, grid), np.inf)
    for box in sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
        x1, y1, x2, y2 = box
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        weight[_middle(cx, cy, box, IGNORED, grid) & (objectness == 0)] = 0.0
        central = _middle(cx, cy, box, CENTRAL, grid)
        central[min(int(my * grid), grid - 1), min(int(mx * grid), grid - 1)] = True
        size = (x2 - x1) * (y2 - y1)
        chosen = central & (size < area)
        objectness[chosen], weight[chosen], area[chosen] = 1.0, 1.0, size
        assigned[:, chosen] = np.asarray(box, np.float32)[:, None]
    return objectness, weight, assigned


def _middle(cx: np.ndarray, cy: np.ndarray, box: np.ndarray, share: float, grid: int) -> np.ndarray:
    """Cells whose centre lies in the central ``share`` of ``box`` (at least one cell wide)."""
    x1, y1, x2, y2 = box
    hw = max(share * (x2 - x1) / 2, 0.5 / grid)
    hh = max(share * (y2 - y1) / 2, 0.5 / grid)
    return (np.abs(cx - (x1 + x2) / 2) <= hw) & (np.abs(cy - (y1 + y2) / 2) <= hh)


def predicted_boxes(raw: torch.Tensor) -> torch.Tensor:
    """(N,5,G,G) head output -> (N,4,G,G) normalised x1,y1,x2,y2."""
    grid = raw.shape[-1]
    centres = (torch.arange(grid, dtype=raw.dtype) + 0.5) / grid
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    distances = torch.exp(raw[:, 1:].clamp(-6, 3)) / grid
    return torch.stack([cx - distances[:, 0], cy - distances[:, 1],
                        cx + distances[:, 2], cy + distances[:, 3]], dim=1)  # fmt: skip


def giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - GIoU for (M,4) boxes."""
    ix1, iy1 = torch.max(pred[:, 0], target[:, 0]), torch.max(pred[:, 1], target[:, 1])
    ix2, iy2 = torch.min(pred[:, 2], target[:, 2]), torch.min(pred[:, 3], target[:, 3])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_t = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    union = area_p + area_t - inter
    ex1, ey1 = torch.min(pred[:, 0], target[:, 0]), torch.min(pred[:, 1], target[:, 1])
    ex2, ey2 = torch.max(pred[:, 2], target[:, 2]), torch.max(pred[:, 3], target[:, 3])
    enclosing = (ex2 - ex1) * (ey2 - ey1)
    iou_value = inter / union.clamp(min=1e-9)
    return 1 - (iou_value - (enclosing - union) / enclosing.clamp(min=1e-9))


@dataclass
class Features:
    """Frozen encoder maps of a set of composites, with their normalised car boxes."""

    f16: np.ndarray  # (N, C16, S/16, S/16) float16, S the side the frames were encoded at
    f32: np.ndarray  # (N, C32, S/32, S/32) float16
    boxes: list[list[np.ndarray]]


Frames = Callable[[int], tuple[Image.Image, list[Box]]]


def frame_batches(
    frames: Frames, count: int, transform: Callable[[Image.Image], np.ndarray], batch: int = 32
) -> Iterator[tuple[np.ndarray, list[list[np.ndarray]]]]:
    """Frames 0..count-1 in batches: the model's input and each frame's normalised boxes."""
    for start in range(0, count, batch):
        made = [frames(i) for i in range(start, min(count, start + batch))]
        arrays = np.stack([transform(image) for image, _ in made])
        boxes = [
            [np.asarray(b, np.float32) / np.asarray([*image.size] * 2, np.float32) for b in found]
            for image, found in made
        ]
        yield arrays, boxes


def extract(
    session: ort.InferenceSession,
    names: tuple[str, str],
    frames: Frames,
    count: int,
    transform: Callable[[Image.Image], np.ndarray],
    on_progress: Callable[[int], None] | None = None,
) -> Features:
    """Compose ``count`` frames and keep the two feature maps of each (float16)."""
    input_name = session.get_inputs()[0].name
    f16, f32, boxes = [], [], []
    for arrays, frame_boxes in frame_batches(frames, count, transform):
        maps = session.run(list(names), {input_name: arrays})
        f16.append(maps[0].astype(np.float16))
        f32.append(maps[1].astype(np.float16))
        boxes += frame_boxes
        if on_progress:
            on_progress(len(arrays))
    return Features(np.concatenate(f16), np.concatenate(f32), boxes)


def fit(
    train: Features,
    epochs: int = 30,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> tuple[Head, dict[str, np.ndarray]]:
    """Train the head; returns it with the feature standardisation it expects."""
    torch.manual_seed(seed)
    norm = {}
    for name, maps in (("16", train.f16), ("32", train.f32)):
        as_float = maps.astype(np.float32)
        norm[f"mean{name}"] = as_float.mean(axis=(0, 2, 3))
        norm[f"std{name}"] = as_float.std(axis=(0, 2, 3)) + 1e-3
        del as_float
    mean16, std16, mean32, std32 = (norm[k] for k in ("mean16", "std16", "mean32", "std32"))
    labels = [targets(boxes, train.f16.shape[-1]) for boxes in train.boxes]
    objectness = torch.from_numpy(np.stack([t[0] for t in labels]))
    weight = torch.from_numpy(np.stack([t[1] for t in labels]))
    assigned = torch.from_numpy(np.stack([t[2] for t in labels]))
    head = Head(train.f16.shape[1], train.f32.shape[1])
    optimiser = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * math.ceil(len(objectness) / 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 2e-3, total_steps=steps)
    m16, s16 = torch.from_numpy(mean16)[:, None, None], torch.from_numpy(std16)[:, None, None]
    m32, s32 = torch.from_numpy(mean32)[:, None, None], torch.from_numpy(std32)[:, None, None]
    for epoch in range(epochs):
        order = torch.randperm(len(objectness))
        total = 0.0
        for start in range(0, len(order), 64):
            index = order[start : start + 64].numpy()
            f16 = (torch.from_numpy(train.f16[index].astype(np.float32)) - m16) / s16
            f32 = (torch.from_numpy(train.f32[index].astype(np.float32)) - m32) / s32
            raw = head(f16, f32)
            obj, w = objectness[index], weight[index]
            cls = nn.functional.binary_cross_entropy_with_logits(
                raw[:, 0], obj, weight=w * (1 + 3 * obj), reduction="sum"
            ) / w.sum().clamp(min=1)
            positive = obj > 0
            boxes = predicted_boxes(raw).permute(0, 2, 3, 1)[positive]
            truth = assigned[index].permute(0, 2, 3, 1)[positive]
            reg = giou_loss(boxes, truth).mean() if len(truth) else raw.sum() * 0
            loss = cls + 2 * reg
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
        if on_epoch:
            on_epoch(epoch + 1, total / len(order))
    return head.eval(), norm


def head_graph(
    head: Head, norm: dict[str, np.ndarray], names: tuple[str, str]
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """ONNX nodes and initialisers computing the head from the two named maps.

    The feature standardisation is folded into the 1x1 convolutions.
    """
    state = {k: v.detach().numpy().astype(np.float32) for k, v in head.state_dict().items()}

    def folded(prefix: str, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weight = state[f"{prefix}.weight"] / std[None, :, None, None]
        bias = state[f"{prefix}.bias"] - (weight[:, :, 0, 0] * mean[None, :]).sum(axis=1)
        return weight.astype(np.float32), bias.astype(np.float32)

    w16, b16 = folded("reduce16", norm["mean16"], norm["std16"])
    w32, b32 = folded("reduce32", norm["mean32"], norm["std32"])
    tensors = {
        "loc.w16": w16, "loc.b16": b16, "loc.w32": w32, "loc.b32": b32,
        "loc.w1": state["conv1.weight"], "loc.b1": state["conv1.bias"],
        "loc.w2": state["conv2.weight"], "loc.b2": state["conv2.bias"],
        "loc.wo": state["out.weight"], "loc.bo": state["out.bias"],
    }  # fmt: skip
    nodes = [
        helper.make_node("Conv", [names[0], "loc.w16", "loc.b16"], ["loc.a"]),
        helper.make_node("Conv", [names[1], "loc.w32", "loc.b32"], ["loc.c"]),
        helper.make_node("Shape", ["loc.a"], ["loc.a_shape"]),
        helper.make_node(
            "Resize",
            ["loc.c", "", "", "loc.a_shape"],
            ["loc.c_grid"],
            mode="linear",
            coordinate_transformation_mode="align_corners",
        ),
        helper.make_node("Add", ["loc.a", "loc.c_grid"], ["loc.sum"]),
        helper.make_node("Relu", ["loc.sum"], ["loc.h0"]),
        helper.make_node("Conv", ["loc.h0", "loc.w1", "loc.b1"], ["loc.h1_"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["loc.h1_"], ["loc.h1"]),
        helper.make_node("Conv", ["loc.h1", "loc.w2", "loc.b2"], ["loc.h2_"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["loc.h2_"], ["loc.h2"]),
        helper.make_node("Conv", ["loc.h2", "loc.wo", "loc.bo"], [LOCALIZER_OUTPUT]),
    ]
    return nodes, [numpy_helper.from_array(v, k) for k, v in tensors.items()]


def without_localizer(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without its localiser head: the encoder as it was trained."""
    plain = onnx.ModelProto()
    plain.CopyFrom(model)
    graph = plain.graph
    for output in [o for o in graph.output if o.name == LOCALIZER_OUTPUT]:
        graph.output.remove(output)
    for node in [n for n in graph.node if any(o.startswith(HEAD_PREFIX) for o in n.output)
                 or LOCALIZER_OUTPUT in n.output]:  # fmt: skip
        graph.node.remove(node)
    for tensor in [t for t in graph.initializer if t.name.startswith(HEAD_PREFIX)]:
        graph.initializer.remove(tensor)
    for value in [v for v in graph.input if v.name.startswith(HEAD_PREFIX)]:
        graph.input.remove(value)
    return plain


def switched(nodes: Sequence[onnx.NodeProto]) -> onnx.NodeProto:
    """The head's nodes inside an ``If`` on :data:`LOCALIZER_SWITCH`: ONNX Runtime runs every
    node of a graph, but only the branch of an ``If`` that is taken (off: an empty grid)."""
    on = helper.make_graph(
        list(nodes), "localizer_on", [],
        [helper.make_tensor_value_info(LOCALIZER_OUTPUT, onnx.TensorProto.FLOAT, None)],
    )  # fmt: skip
    none = numpy_helper.from_array(np.zeros((0, 5, 0, 0), np.float32))
    off = helper.make_graph(
        [helper.make_node("Constant", [], [f"{HEAD_PREFIX}none"], value=none)], "localizer_off",
        [], [helper.make_tensor_value_info(f"{HEAD_PREFIX}none", onnx.TensorProto.FLOAT, None)],
    )  # fmt: skip
    return helper.make_node(
        "If", [LOCALIZER_SWITCH], [LOCALIZER_OUTPUT], then_branch=on, else_branch=off,
        name=f"{HEAD_PREFIX}switch",
    )  # fmt: skip


def attach(
    model: onnx.ModelProto, head: Head, norm: dict[str, np.ndarray], names: tuple[str, str],
    report: dict[str, float], locate_size: int,
) -> onnx.ModelProto:  # fmt: skip
    """A copy of ``model`` with the head appended as the ``localizer`` output.

    The graph then takes photos of any side: the localiser reads them at ``locate_size``
    (its own small pass), the embedding at the model's input size.
    """
    import json

    # A head trained before is replaced, not stacked.
    merged = with_side(without_localizer(model), "side")
    graph = merged.graph
    nodes, initialisers = head_graph(head, norm, names)
    graph.node.append(switched(nodes))
    graph.initializer.extend(initialisers)
    graph.input.append(helper.make_tensor_value_info(LOCALIZER_SWITCH, onnx.TensorProto.BOOL, []))
    graph.output.append(
        helper.make_tensor_value_info(
            LOCALIZER_OUTPUT, onnx.TensorProto.FLOAT, ["batch", 5, "grid", "grid"]
        )
    )
    for prop in merged.metadata_props:
        if prop.key == METADATA_KEY:
            spec = json.loads(prop.value)
            spec["localizer"] = report
            spec["locate_size"] = locate_size
            prop.value = json.dumps(spec, sort_keys=True)
    onnx.checker.check_model(merged)
    return merged


def box_quality(
    predicted: Sequence[list[np.ndarray]], truth: Sequence[list[np.ndarray]]
) -> dict[str, float]:
    """Mean best IoU per true box and the share of true boxes found at IoU >= 0.7."""
    best = []
    false_found = 0
    for found, boxes in zip(predicted, truth, strict=False):
        for box in boxes:
            best.append(max((iou(box, f) for f in found), default=0.0))
        if not boxes and found:
            false_found += 1
    best_array = np.asarray(best)
    empty = sum(1 for b in truth if not b) or 1
    return {
        "mean_iou": float(best_array.mean()),
        "found_at_0.7": float((best_array >= 0.7).mean()),
        "false_alarm_rate": false_found / empty,
    }


def evaluate_head(raw: np.ndarray, truth: Sequence[list[np.ndarray]]) -> dict[str, float]:
    """Box quality of (N,5,G,G) head outputs against normalised true boxes."""
    found = [[b.box for b in boxes_from_map(r)] for r in raw]
    return box_quality(found, truth)


def train_localizer(
    model_path: Path,
    manifest: Path,
    output: Path,
    *,
    frames: int = 6000,
    epochs: int = 30,
    seed: int = 0,
    input_size: int = LOCATE_SIZE,
    limit: int | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float]:
    """Compose frames, extract the encoder's maps, fit the head, write the model with it.

    A tenth of the cars (chosen by seed) only appear in validation frames; the report is
    measured on those, through the ONNX graph that is written.
    """
    from revsearch.encoder.onnx import OnnxEncoder

    cars = training_cars(manifest)[:limit]
    if len(cars) < 10:
        raise ValueError(f"{manifest}: fewer than 10 images in both protocols' training sets")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cars))
    held = max(1, len(cars) // 10)
    val_cars = [cars[i] for i in order[:held]]
    train_cars = [cars[i] for i in order[held:]]
    backgrounds, distractors = sample_photos()
    model = onnx.load(str(model_path))
    spec = OnnxEncoder(model_path).spec
    names = feature_outputs(model, spec.input_size)
    session = exposed_session(with_side(without_localizer(model), input_size), names)
    transform = Transform(input_size, spec.mean, spec.std, spec.input_size)

    def frames_of(pool: Sequence[str], stream: int) -> Frames:
        def make(index: int) -> tuple[Image.Image, list[Box]]:
            frame_rng = np.random.default_rng([seed, stream, index])
            return composite(frame_rng, pool, backgrounds, distractors)

        return make

    composed = 0

    def on_frames(count: int) -> None:
        nonlocal composed
        composed += count
        if on_progress:
            on_progress("composing training frames", composed, frames)

    val_count = max(64, frames // 10)
    train = extract(session, names, frames_of(train_cars, 1), frames, transform, on_frames)

    def on_epoch(epoch: int, loss: float) -> None:
        if on_progress:
            on_progress(f"training (loss {loss:.3f})", epoch, epochs)

    head, norm = fit(train, epochs=epochs, seed=seed, on_epoch=on_epoch)
    del train
    provisional = attach(model, head, norm, names, {}, input_size)
    check = ort.InferenceSession(
        provisional.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    raw, truth = _run_graph(check, frames_of(val_cars, 2), val_count, transform)
    report = evaluate_head(raw, truth)
    report = {k: round(v, 4) for k, v in report.items()}
    report.update(frames=frames, validation_frames=val_count, epochs=epochs, input_size=input_size)
    onnx.save(attach(model, head, norm, names, report, input_size), str(output))
    return report


def _run_graph(
    session: ort.InferenceSession,
    frames: Frames,
    count: int,
    transform: Callable[[Image.Image], np.ndarray],
) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """The written graph's ``localizer`` output on frames, with their normalised boxes."""
    input_name = session.get_inputs()[0].name
    outputs, truth = [], []
    for arrays, boxes in frame_batches(frames, count, transform):
        feed = {input_name: arrays, LOCALIZER_SWITCH: np.asarray(True)}
        outputs.append(session.run([LOCALIZER_OUTPUT], feed)[0])
        truth += boxes
    return np.concatenate(outputs), truth
