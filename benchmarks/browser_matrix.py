"""The Live page's browser engine in each browser and on emulated phones: what a visitor downloads, waits and
gets.

    python benchmarks/browser_matrix.py [--seconds 15] [--visits 3]
                                        [--only chromium firefox webkit "iPhone 13" "Pixel 7"]

For each, the median of `--visits` runs in fresh profiles: the engine's files on a first visit (bytes as
served, summed from the Resource Timing entries of the engine's iframe) and what a second visit in the same
profile fetched over the network (its cache at work), the time from opening the page to the engine's ready
state (its files loaded and compiled: the engine's 'engine-ready' mark, in the browser's own clock from the
page's navigation start, so a test driver's polling is not counted), frames drawn a second and the median ms
of one analysed frame over `--seconds` of a camera showing one real face. Every visit is to a server that has
served the page before, as a visitor's is; the server's very first page (its imports) is timed apart.
- Chromium: Debian's, headless, with its fake camera playing a face (write_camera_video).
- iPhone 13, Pixel 7: the same Chromium with Playwright's device profiles (screen, touch, user agent) and its
  CPU slowed 4x (Emulation.setCPUThrottlingRate): an approximation of a phone, not one.
- Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK (Safari's engine, WebDriver on Xvfb): a
  canvas fake camera (app_harness/fake_camera.py), which these browsers deliver at 16-27 frames a second on
  2 cores: judge their engine by ms a frame as much as by frames a second.
Everything shares this machine's cores with the app's server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from app_harness import webkit
from app_harness.browser import ENGINE_IFRAME, engine_frame, launch_chromium, streamlit_server, write_camera_video
from app_harness.fake_camera import fake_camera_script
from app_pages.browser_live.build import FRONTEND, install_packages, packages_installed

FIGURES = Path(__file__).resolve().parent / "engine_figures.js"
PHONES = ("iPhone 13", "Pixel 7")


def chromium_figures(playwright, browser, url: str, seconds: float, phone: str | None) -> dict:
    profile = playwright.devices[phone] if phone else {"viewport": {"width": 1280, "height": 1000}}
    context = browser.new_context(**profile)
    context.add_init_script(FIGURES.read_text())
    try:
        def visit():
            page = context.new_page()
            page.set_default_timeout(120_000)
            if phone:
                page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
            page.goto(f"{url}/live")
            page.frame_locator(ENGINE_IFRAME).get_by_text("Ready").wait_for()
            return page

        page = visit()
        engine = page.frame_locator(ENGINE_IFRAME)
        engine.get_by_role("button", name="Start").click()
        engine.get_by_text("the video stays on this device").wait_for()
        time.sleep(seconds + 3)
        frame = engine_frame(page)
        first = frame.evaluate("(s) => window.__engineFigures(s)", seconds)
        engine.get_by_role("button", name="Stop").click()
        again = visit()
        frame = engine_frame(again)
        return {"first": first, "repeat": frame.evaluate("() => window.__engineFigures(1)")}
    finally:
        context.close()


def first_page_of_the_server(browser, url: str) -> float:
    """Seconds to the engine's "Ready" on the first page a fresh server serves (it imports its modules then);
    the figures that follow are taken on the warm server, as a visitor finds it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        opened = time.monotonic()
        page.goto(f"{url}/live")
        page.frame_locator(ENGINE_IFRAME).get_by_text("Ready").wait_for(timeout=120_000)
        return time.monotonic() - opened
    finally:
        context.close()


def firefox_figures(url: str, seconds: float, camera: Path) -> dict:
    if not packages_installed("puppeteer-core"):
        install_packages(shutil.which("npm"))
    done = subprocess.run(["node", "e2e/firefox.mjs", "benchmark", url, str(camera), str(FIGURES), str(seconds)],
                          cwd=FRONTEND, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout)


def webkit_figures(url: str, seconds: float, camera: str) -> dict:
    scripts = [camera, FIGURES.read_text()]
    with webkit.virtual_display() as display, webkit.webkit(display) as driver:
        def visit() -> None:
            status = webkit.open_live_page(driver, url, scripts)
            assert "Ready" in status, status
            webkit.in_engine(driver)

        visit()
        driver.execute_script("document.getElementById('start').click()")
        time.sleep(seconds + 3)
        first = driver.execute_script("return window.__engineFigures(arguments[0])", seconds)
        driver.execute_script("document.getElementById('start').click()")
        visit()
        return {"first": first, "repeat": driver.execute_script("return window.__engineFigures(1)")}


def medians(runs: list[dict]) -> dict:
    """Each figure's median over the runs (a fresh profile each): one visit on a shared 2-core machine
    can be a second off."""
    return {part: {key: statistics.median(run[part][key] or 0 for run in runs) for key in runs[0][part]}
            for part in ("first", "repeat")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--only", nargs="+", default=["chromium", *PHONES, "firefox", "webkit"])
    parser.add_argument("--visits", type=int, default=3, help="runs per browser, each in a fresh profile")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from skimage import data

    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp, streamlit_server(None, Path(tmp) / "server.log") as (url, _pid):
        camera_video = write_camera_video(Path(tmp) / "camera.mjpeg", data.astronaut())
        camera_script = fake_camera_script(data.astronaut())
        (Path(tmp) / "camera.js").write_text(camera_script)
        chromium_ones = [name for name in args.only if name == "chromium" or name in PHONES]
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, camera_video)
            try:
                cold = first_page_of_the_server(browser, url)
                for name in chromium_ones:
                    results[name] = [chromium_figures(playwright, browser, url, args.seconds,
                                                      None if name == "chromium" else name)
                                     for _ in range(args.visits)]
            finally:
                browser.close()
        if "firefox" in args.only:
            results["firefox"] = [firefox_figures(url, args.seconds, Path(tmp) / "camera.js")
                                  for _ in range(args.visits)]
        if "webkit" in args.only and not webkit.MISSING:
            results["webkit"] = [webkit_figures(url, args.seconds, camera_script) for _ in range(args.visits)]
    print(f"{'browser':<12} {'first visit':>12} {'ready':>7} {'fps shown':>10} {'ms/frame':>9} "
          f"{'repeat visit':>13} {'ready':>7}")
    for name, runs in results.items():
        seen = medians(runs)
        first, repeat = seen["first"], seen["repeat"]
        print(f"{name:<12} {first['bytes'] / 1e6:>9.2f} MB {first['ready']:>6.1f}s {first['fps']:>10.1f} "
              f"{first['ms'] or 0:>9.1f} {repeat['transferred'] / 1e6:>10.2f} MB {repeat['ready']:>6.1f}s")
    print(f"the server's own first page after it started (imports, Chromium): ready in {cold:.1f}s")
    print(f"medians of {args.visits} runs, each in a fresh profile. ready: from opening the page to the engine's "
          "files loaded and compiled, in the browser's own clock")
    for name, runs in results.items():
        print(f"  {name} ready, each run: first visit " + ", ".join(f"{run['first']['ready']:.2f}" for run in runs)
              + "; repeat " + ", ".join(f"{run['repeat']['ready']:.2f}" for run in runs))
    print("first visit: the engine's files as served; repeat visit: what came over the network the second time "
          "(0 where the browser reports no transfer sizes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
