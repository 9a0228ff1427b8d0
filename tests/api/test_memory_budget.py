"""Memory of a real server under concurrent small-file, large-image uploads (issue 15).

A PNG of 7000 x 7000 pixels is under the 50 MP limit and compresses to well under 1 MB,
but decodes to about 200 MB (a WebP needs about 750 MB). Eight at once must add under 1 GB
to the server's resident memory at its peak, the memory must be given back afterwards, and
the server must keep answering normally.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from tests.api.http import search
from tests.api.photos import catalog_photo
from tests.support.live_server import LiveServer, server_fixture

pytestmark = pytest.mark.slow

SIDE = 7000
CONCURRENT = 8
PEAK_BUDGET = 1024**3  # what eight of them may add at the peak
SETTLED_BUDGET = 300 * 1024**2  # what may stay once they are done


def big_image(fmt: str) -> bytes:
    image = Image.new("RGB", (SIDE, SIDE), (90, 120, 200))
    ImageDraw.Draw(image).rectangle((1000, 2000, 6000, 5000), fill=(200, 30, 30))
    buffer = io.BytesIO()
    options = {"compress_level": 1} if fmt == "PNG" else {"quality": 50, "method": 0}
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Start VmHWM (peak RSS) afresh: writing 5 to clear_refs resets it (Linux >= 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


budget_server = server_fixture("budget_server", scope="module")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_concurrent_large_images_stay_within_the_memory_budget(
    budget_server: LiveServer, fmt: str
) -> None:
    pid = budget_server.process.pid
    data = big_image(fmt)
    assert len(data) < 1024**2 and SIDE * SIDE < 50_000_000  # small file, under the limit
    photo = catalog_photo(3)[0].read_bytes()
    with budget_server.client(timeout=120.0) as client:
        assert search(client, photo, k=3).status_code == 200  # warm: model, index, pools
        baseline_kb = status_kb(pid, "VmRSS")
        reset_peak(pid)

        def one(_: int) -> httpx.Response:
            with budget_server.client(timeout=120.0) as own:
                return search(own, data, name=f"big.{fmt.lower()}", k=3)

        with ThreadPoolExecutor(CONCURRENT) as pool:
            answers = list(pool.map(one, range(CONCURRENT)))
        peak_kb = status_kb(pid, "VmHWM")
        time.sleep(0.5)
        settled_kb = status_kb(pid, "VmRSS")
        assert [a.status_code for a in answers] == [200] * CONCURRENT, answers[0].text

        added_at_peak = (peak_kb - baseline_kb) * 1024
        print(
            f"{fmt}: RSS before {baseline_kb / 1024:.0f} MB, peak {peak_kb / 1024:.0f} MB "
            f"(+{added_at_peak / 1024**2:.0f} MB), after {settled_kb / 1024:.0f} MB"
        )
        assert added_at_peak < PEAK_BUDGET
        assert (settled_kb - baseline_kb) * 1024 < SETTLED_BUDGET

        later = search(client, photo, k=3)  # later requests are unaffected
        assert later.status_code == 200
        assert later.json()["results"][0]["score"] > 0.999
