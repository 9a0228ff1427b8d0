"""Is a search hit the very photo the query was made from (a crop, screenshot or re-save)?

The embedding says "same car"; two photos of the same model score as high as a photo and its
edited copy. Local features decide: ORB keypoints of the query and of a candidate, matched
(Lowe's ratio test) and checked for one consistent similarity transform (rotation, scale,
shift) with RANSAC. An edited copy keeps dozens to hundreds of such matches, another photo of
the same car a handful (benchmarks/results/same_image.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Keypoints per image, and the longer side the image is scaled to first, up or down. Measured
# on 224-px catalog photos and their edited copies (benchmarks/bench_same_image.py): at their
# own size tight crops keep too few matches; 480 px and 1000 keypoints separate a little
# better but cost twice as much.
FEATURES = 600
FEATURE_SIDE = 320
# Matches consistent with one transform from which the candidate counts as the same photo:
# edited copies keep 84 or more (tight 60 % crops: 29 or more, most above 36); other photos
# of the same car at most 23, even shots of the same car taken a moment apart.
SAME_IMAGE_MATCHES = 30
# The best-scoring hits checked (each check reads and decodes the catalog image).
SAME_IMAGE_CANDIDATES = 6
RATIO = 0.8  # Lowe's ratio test: a match must be clearly better than the second best
RANSAC_PIXELS = 4.0  # reprojection error allowed at FEATURE_SIDE


@dataclass(frozen=True)
class LocalFeatures:
    points: np.ndarray  # (n, 2) float32, in the scaled image's pixels
    descriptors: np.ndarray | None  # (n, 32) uint8 ORB descriptors; None when n == 0


def local_features(image: Image.Image) -> LocalFeatures:
    """ORB keypoints of the image scaled to FEATURE_SIDE (grayscale: colour edits don't count)."""
    import cv2

    cv2.setNumThreads(1)  # requests are the parallelism, not OpenCV's own threads
    scale = FEATURE_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    gray = image.convert("L").resize(size, Image.Resampling.BILINEAR)
    orb = cv2.ORB.create(nfeatures=FEATURES)  # cheap; one per call is thread-safe
    keypoints, descriptors = orb.detectAndCompute(np.asarray(gray), None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return LocalFeatures(points, descriptors if len(keypoints) else None)


def consistent_matches(query: LocalFeatures, candidate: LocalFeatures) -> int:
    """How many keypoint matches one similarity transform explains (RANSAC inliers)."""
    import cv2

    if query.descriptors is None or candidate.descriptors is None or len(candidate.points) < 2:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, candidate.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < 3:
        return 0
    source = query.points[[m.queryIdx for m in good]]
    target = candidate.points[[m.trainIdx for m in good]]
    _, inliers = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS
    )
    return 0 if inliers is None else int(inliers.sum())


def is_same_image(query: LocalFeatures, candidate: LocalFeatures) -> bool:
    return consistent_matches(query, candidate) >= SAME_IMAGE_MATCHES
