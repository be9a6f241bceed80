"""What a repeat visit to the Live page fetches again when the visitor's device is slow.

    python benchmarks/engine_cache.py [--slowdown 60] [--visits 4]

The browser engine keeps its runtimes, models and label font in Cache Storage (app_pages/browser_live/
frontend/src/files.js), behind a guard that gives up on a cache that hangs. A page busy for seconds as the
engine asks its cache (Streamlit's own page loading on a slow phone or a loaded machine) must not be taken
for a hang. Debian's headless Chromium, one profile: a first visit fills the cache, then `--visits` more with
the page's thread slowed `--slowdown` times (Emulation.setCPUThrottlingRate). For each visit: the large files
that came over the network, and the slowest answer of the engine's cache calls in the page's clock.
At 60x on a 2-core machine (docs/benchmarks.md), with the bundle before a2da74b (a 2 s wall-clock guard) 3 of
4 slowed visits fetched 3 of the 4 files again; with a2da74b's, whose guard counts the page's free time, none.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from app_harness.browser import (
    ENGINE_IFRAME,
    engine_files_fetched,
    engine_frame,
    engine_network_reasons,
    launch_chromium,
    streamlit_server,
    wait_for_engine_cache,
)

# Times every cache call of the engine's frame in its own clock, from the call to the answer.
CACHE_TIMER = """
self.__cacheAnswers = [];
for (const [owner, name] of [[CacheStorage.prototype, 'open'], [Cache.prototype, 'match']]) {
  const call = owner[name];
  owner[name] = function (...args) {
    const asked = performance.now();
    const answer = call.apply(this, args);
    answer.then(() => self.__cacheAnswers.push(performance.now() - asked), () => undefined);
    return answer;
  };
}
"""


def visit(context, url: str, slowdown: float, cached_files: int) -> dict:
    """One visit to /live until the engine is ready (and its cache holds `cached_files`): what came over the
    network and how the cache answered."""
    page = context.new_page()
    page.set_default_timeout(300_000)
    page.add_init_script(CACHE_TIMER)
    if slowdown > 1:
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
    started = time.perf_counter()
    page.goto(f"{url}/live")
    page.frame_locator(ENGINE_IFRAME).get_by_text("Ready").wait_for()
    ready = time.perf_counter() - started
    frame = engine_frame(page)
    reasons = engine_network_reasons(frame)
    fetched = [f"{name} ({reasons.get(name, 'no reason marked')})" for name in engine_files_fetched(frame)]
    answers = frame.evaluate("() => self.__cacheAnswers")
    wait_for_engine_cache(frame, cached_files or len(fetched))
    page.close()
    return {"fetched": fetched, "slowest_answer": max(answers, default=0.0) / 1000, "ready": ready}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slowdown", type=float, default=60.0, help="how many times slower the page's thread is")
    parser.add_argument("--visits", type=int, default=4, help="slowed repeat visits after the first")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, streamlit_server(None, Path(tmp) / "server.log") as (url, _pid):
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            context = browser.new_context()
            try:
                runs = [visit(context, url, 1.0, 0)]
                runs += [visit(context, url, args.slowdown, len(runs[0]["fetched"])) for _ in range(args.visits)]
            finally:
                browser.close()
    print(f"{'visit':<18} {'ready':>7} {'slowest cache answer':>21}  large files over the network")
    for number, run in enumerate(runs):
        name = "first" if number == 0 else f"repeat {number}, {args.slowdown:g}x"
        print(f"{name:<18} {run['ready']:>6.1f}s {run['slowest_answer']:>20.2f}s  {', '.join(run['fetched']) or '-'}")
    again = sum(bool(run["fetched"]) for run in runs[1:])
    print(f"{again} of {len(runs) - 1} slowed repeat visits fetched files again "
          f"(the first fetched {len(runs[0]['fetched'])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
