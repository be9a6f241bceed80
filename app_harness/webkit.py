"""Safari's engine, WebKitGTK's MiniBrowser, driven over WebDriver (Selenium and Debian's WebKitWebDriver) on
a virtual display: what ../shared/guides/browsers-beyond-chromium.md found to work here.

Plain WebDriver runs no script before a page's own, so `watch_engine_frame` patches the Live page's engine
iframe from the top page as soon as its document exists: the fake camera (app_harness.fake_camera), the
download catcher (page_downloads.js), a console that keeps its lines for the test and, where a test wants
it, WebAssembly taken away.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.webkitgtk.options import Options
from selenium.webdriver.webkitgtk.service import Service

from app_harness.browser import ENGINE_IFRAME

WEBKIT_DRIVER = shutil.which("WebKitWebDriver")
MINIBROWSER = next(iter(sorted(glob.glob("/usr/lib/*/webkit2gtk-4.*/MiniBrowser"))), None)
XVFB = shutil.which("Xvfb")
MISSING = ("WebKitGTK is not installed (apt-get install webkit2gtk-driver xvfb)"
           if not (WEBKIT_DRIVER and MINIBROWSER and XVFB) else None)


class MiniBrowserOptions(Options):
    """WebKitWebDriver refuses a session that names its browser ("Failed to match capabilities"). The name is
    left out of a copy: Selenium's own method returns the options' dict itself, and Selenium reads the name
    from it again at each start, so taking it out there made every start after the first one fail."""

    def to_capabilities(self) -> dict:
        capabilities = dict(super().to_capabilities())
        capabilities.pop("browserName", None)
        return capabilities


@contextmanager
def virtual_display(size: str = "1400x1100x24") -> Iterator[str]:
    """An Xvfb display for the browser; yields its name (":N")."""
    for number in range(90, 120):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}") and not os.path.exists(f"/tmp/.X{number}-lock"):
            break
    display = f":{number}"
    process = subprocess.Popen([XVFB, display, "-screen", "0", size, "-nolisten", "tcp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            assert process.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.1)
        yield display
    finally:
        process.terminate()
        process.wait(timeout=10)


STARTS, START_SECONDS = 3, 60.0


def start_session(options: Options, display: str) -> tuple[webdriver.WebKitGTK | None, str]:
    """A session, or None and why: WebKitWebDriver failed to start, or has not opened a session within
    START_SECONDS (on a loaded machine it once waited for MiniBrowser for more than 8 minutes, with no
    browser running; its driver process is then stopped, which ends the waiting request)."""
    service = Service(executable_path=WEBKIT_DRIVER, env={**os.environ, "DISPLAY": display})
    started: list[webdriver.WebKitGTK] = []
    failures: list[str] = []

    def start() -> None:
        try:
            started.append(webdriver.WebKitGTK(options=options, service=service))
        except Exception as err:  # noqa: BLE001 - the caller tries again, or says it could not start
            failures.append(f"{type(err).__name__}: {err}")

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    thread.join(START_SECONDS)
    if started:
        return started[0], ""
    if getattr(service, "process", None) is not None:  # a driver that never ran has nothing to stop
        service.stop()
    thread.join(10)
    return None, failures[-1] if failures else f"no session within {START_SECONDS:.0f} s"


def minibrowser_options() -> MiniBrowserOptions:
    """MiniBrowser under automation, with media streams and its mock capture devices on."""
    options = MiniBrowserOptions()
    options.binary_location = MINIBROWSER
    for argument in ("--automation", "--enable-media-stream=true", "--enable-mock-capture-devices=true"):
        options.add_argument(argument)
    return options


@contextmanager
def webkit(display: str) -> Iterator[webdriver.WebKitGTK]:
    """MiniBrowser with media streams on, driven over WebDriver; a start that fails is tried again."""
    options = minibrowser_options()
    driver, failures = None, []
    for _ in range(STARTS):
        driver, why = start_session(options, display)
        if driver is not None:
            break
        failures.append(why)
    assert driver is not None, f"MiniBrowser did not start in {STARTS} tries: {'; '.join(failures)}"
    driver.set_script_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


WATCHER = """
const scripts = arguments[0], withoutWasm = arguments[1];
const patch = (frame) => {
  const w = frame.contentWindow;
  if (!w || w.__patched || !w.document || w.location.href === 'about:blank') return;
  w.__patched = true;
  if (withoutWasm) delete w.WebAssembly;
  scripts.forEach((script) => w.eval(script));
  // Console lines, read back by the tests (under the driver they reach no log).
  w.__console = [];
  for (const level of ['log', 'info', 'warn', 'error']) {
    const original = w.console[level].bind(w.console);
    w.console[level] = (...args) => { w.__console.push([level, args.map(String).join(' ')]); original(...args); };
  }
};
const scan = () => document.querySelectorAll(arguments[2]).forEach(patch);
new MutationObserver(scan).observe(document, {childList: true, subtree: true});
setInterval(scan, 2);
"""


def watch_engine_frame(driver: webdriver.WebKitGTK, scripts: list[str], without_webassembly: bool = False) -> None:
    """From now on, run `scripts` in the engine's iframe on this page as soon as its document exists."""
    driver.execute_script(WATCHER, scripts, without_webassembly, ENGINE_IFRAME)


# What WebKitWebDriver answers when the page's web process stalls mid-script: seen once in a fresh-clone CI run
# on a loaded 2-core machine, polling the Live page while its engine recorded the stream; the next poll answers.
STALLED_PAGE = "Could not parse script result"


def wait_for(driver: webdriver.WebKitGTK, script: str, *args, timeout: float = 90.0):
    """Polls `script` (a function body returning a value) in the current frame until it is truthy. A poll
    that a stalled page could not answer counts as not yet; any other driver error is raised at once."""
    deadline = time.monotonic() + timeout
    stalled = ""
    while True:
        try:
            value = driver.execute_script(script, *args)
        except WebDriverException as err:
            if STALLED_PAGE not in (err.msg or ""):
                raise
            value, stalled = None, f"\nthe last poll failed: {err.msg}"
        if value:
            return value
        assert time.monotonic() < deadline, (f"timed out waiting for: {script}\nthe frame ends: "
                                             f"{text_tail(driver)!r}{stalled}")
        time.sleep(0.1)


def text_tail(driver: webdriver.WebKitGTK, length: int = 600) -> str:
    """The end of what the current frame shows: what a timed-out wait found there instead (a page still
    receiving frames, an error, a stream that never stopped) says more than the script that waited."""
    try:
        return driver.execute_script(f"return document.body ? document.body.innerText.slice(-{length}) : ''")
    except WebDriverException as err:  # a page that went away mid-wait: say so, not hide the timeout behind it
        return f"(unreadable: {type(err).__name__})"


def open_live_page(driver: webdriver.WebKitGTK, url: str, engine_scripts: list[str], page_scripts: Sequence[str] = (),
                   without_webassembly: bool = False) -> str:
    """The Live page with `engine_scripts` run in its engine as it loads and `page_scripts` in the page;
    returns the engine's status once it settles (ready, or why it cannot start), back in the page."""
    driver.get(f"{url}/live")
    watch_engine_frame(driver, engine_scripts, without_webassembly)
    for script in page_scripts:
        driver.execute_script(script)
    driver.switch_to.frame(wait_for(driver, "return document.querySelector(arguments[0])", ENGINE_IFRAME))
    status = wait_for(driver, "const s = document.getElementById('status')?.textContent ?? '';"
                              "return /Ready|could not start|turned off/.test(s) && s;")
    driver.switch_to.default_content()
    return status


def in_engine(driver: webdriver.WebKitGTK) -> None:
    """Into the engine's iframe, from wherever the driver is."""
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, ENGINE_IFRAME))
