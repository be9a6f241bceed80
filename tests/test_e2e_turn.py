"""The Community Cloud path for the live page, proven here: a real TURN server (Debian's coturn, with a
user and password) configured through the README's `ICE_SERVERS` secret, and Chromium allowed to send
media only through it (`ICE_TRANSPORT_POLICY=relay`). The annotated video must come back through the
relay, as it must on a network where browser and server cannot reach each other directly."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from app_harness.browser import (
    CHROMIUM,
    PROCESSED_CORNER_BELOW,
    WEBRTC_IFRAME,
    free_port,
    launch_chromium,
    processed_frame_corner,
    start_live_stream,
    streamlit_server,
    wait_for_stats,
    write_camera_video,
)

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(shutil.which("turnserver") is None, reason="Debian's coturn is not installed"),
    pytest.mark.timeout(300, method="signal"),
]

# Every RTCPeerConnection a page (or its iframes) makes, kept where the test can ask it for its stats.
RECORD_PEER_CONNECTIONS = """(() => {
  const Original = window.RTCPeerConnection;
  if (!Original) return;
  window.__peerConnections = [];
  window.RTCPeerConnection = function (...args) {
    const connection = new Original(...args);
    window.__peerConnections.push(connection);
    return connection;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})();"""

# The candidate the browser's end of the selected pair uses, and the policy it was configured with.
SELECTED_CANDIDATE = """async () => {
  const connection = (window.__peerConnections || []).find(c => c.connectionState === 'connected');
  if (!connection) return null;
  const stats = await connection.getStats();
  let pair = null;
  stats.forEach(r => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
  });
  if (!pair) return null;
  return {local: stats.get(pair.localCandidateId).candidateType, received: pair.bytesReceived,
          policy: connection.getConfiguration().iceTransportPolicy};
}"""


def machine_address() -> str:
    """This machine's own interface address: Chromium and aioice leave loopback out of ICE."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        return probe.getsockname()[0]


@pytest.fixture()
def turn_server(tmp_path):
    address, port, log = machine_address(), free_port(), tmp_path / "turnserver.log"
    command = ["turnserver", "-n", "--listening-ip", address, "--relay-ip", address, "--listening-port", str(port),
               "--lt-cred-mech", "--user", "fer:relay-only-secret", "--realm", "fer.test", "--fingerprint",
               "--no-cli", "--no-tls", "--no-dtls", "--min-port", "49160", "--max-port", "49400",
               "--log-file", str(log), "--simple-log", "--no-stdout-log", "-v"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and "listener opened" in log.read_text(errors="replace").lower()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"turnserver did not start:\n{log.read_text() if log.exists() else '(no log)'}")
            time.sleep(0.1)
        yield address, port, log
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_live_video_comes_back_through_a_turn_relay_only(turn_server, tmp_path, face_photo):
    address, port, turn_log = turn_server
    servers = [{"urls": [f"turn:{address}:{port}?transport=udp"], "username": "fer",
                "credential": "relay-only-secret"}]
    stats_file = tmp_path / "stats.json"
    camera = write_camera_video(tmp_path / "faces.mjpeg", face_photo)
    env = {"ICE_SERVERS": json.dumps(servers), "ICE_TRANSPORT_POLICY": "relay"}
    with streamlit_server(stats_file, tmp_path / "server.log", extra_env=env) as (url, _pid), \
            playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright, camera)
        try:
            page = start_live_stream(browser, url, init_script=RECORD_PEER_CONNECTIONS, timeout_ms=60_000)
            frame = page.frame_locator(WEBRTC_IFRAME)
            stats = wait_for_stats(stats_file, lambda s: s.get("frames_with_faces", 0) >= 10, timeout=90)
            assert stats.get("frames_with_faces", 0) >= 10, f"no frames reached the server through the relay: {stats}"
            video = frame.locator("video")
            corner = processed_frame_corner(page, video)
            assert corner < PROCESSED_CORNER_BELOW, f"no annotated frame came back through the relay ({corner})"
            webrtc = next(f for f in page.frames if "streamlit_webrtc" in (f.name or "") + f.url)
            selected = None
            for _ in range(40):
                selected = webrtc.evaluate(SELECTED_CANDIDATE)
                if selected:
                    break
                page.wait_for_timeout(250)
            assert selected and selected["policy"] == "relay" and selected["local"] == "relay", selected
            assert selected["received"] > 10_000  # the annotated video, received over the relayed pair
        finally:
            browser.close()
    log = Path(turn_log).read_text(errors="replace")
    assert re.search(r"user <fer>: incoming packet ALLOCATE processed, success", log)  # authenticated, relayed
