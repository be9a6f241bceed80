"""Take the README's screenshots of every page from the real app: `python scripts/screenshots.py`.

Uses the same server, Chromium and fake camera as the browser tests; writes docs/screenshots/*.png.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from PIL import Image
from skimage import data

from app_harness.browser import (
    ENGINE_IFRAME,
    launch_chromium,
    streamlit_server,
    write_camera_video,
)

OUT = ROOT / "docs" / "screenshots"


def group_photo(path: Path) -> Path:
    """The astronaut photo beside a mirrored copy: two faces, as a small group picture."""
    photo = data.astronaut()
    both = Image.new("RGB", (784, 512))
    both.paste(Image.fromarray(photo[:, 60:452]), (0, 0))
    both.paste(Image.fromarray(photo[:, 60:452][:, ::-1]), (392, 0))
    both.save(path)
    return path


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = write_camera_video(tmp / "faces.mjpeg", data.astronaut(), seconds=6)
        photo = group_photo(tmp / "group.png")
        with sync_playwright() as playwright, streamlit_server(None, tmp / "server.log") as (url, _):
            browser = launch_chromium(playwright, video)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)

            page.goto(url)
            page.get_by_text("Privacy").wait_for()
            page.screenshot(path=str(OUT / "home.png"))

            page.goto(f"{url}/upload")
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(photo))
            page.get_by_text("2 faces found", exact=True).wait_for()
            page.get_by_text(re.compile(r"Face #2 \w+")).first.wait_for()
            page.get_by_text("Show what each label rests on").click()
            page.get_by_text(re.compile(r"#2 \w+: up to")).first.wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / "upload.png"))

            page.goto(f"{url}/live")  # its default engine, in this browser
            engine = page.frame_locator(ENGINE_IFRAME)
            engine.get_by_text("Ready").wait_for()
            engine.get_by_role("button", name="Start").click()
            page.get_by_text("Processing rate").wait_for()
            page.wait_for_timeout(3000)
            page.screenshot(path=str(OUT / "live.png"))

            page.goto(f"{url}/dashboard")
            page.get_by_role("heading", name="How good is it?").wait_for()
            page.wait_for_timeout(2000)
            page.screenshot(path=str(OUT / "dashboard.png"))
            uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="photo with a face")
            uploader.locator('input[type="file"]').set_input_files(str(photo))
            page.get_by_text("The first 32 channels").wait_for()
            page.get_by_role("heading", name="What the network sees").scroll_into_view_if_needed()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / "network.png"))
            browser.close()
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.png')))} to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
