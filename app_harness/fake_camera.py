"""A fake camera for browsers that have none of their own to fake with a file (Firefox, WebKit): a script
that replaces `getUserMedia` with a canvas stream of a real face drifting over grey, as
write_camera_video's MJPEG does for Chromium. Run it in every frame before the page's own scripts
(puppeteer's evaluateOnNewDocument), or inject it into the engine's iframe while it loads (WebDriver)."""

from __future__ import annotations

import base64

import cv2
import numpy as np

from app_harness.browser import CAMERA_BACKGROUND, camera_face

SCRIPT = """
(() => {
  if (window.__fakeCamera) return;
  window.__fakeCamera = true;
  const FACE = '%(face)s';
  MediaDevices.prototype.getUserMedia = async function () {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 480;
    const ctx = canvas.getContext('2d');
    const face = new Image();
    face.src = FACE;
    await face.decode();
    let tick = 0;
    const draw = () => {
      ctx.fillStyle = 'rgb(%(grey)s)';
      ctx.fillRect(0, 0, 640, 480);
      ctx.drawImage(face, 220 + Math.round(30 * Math.sin(tick++ / 20)), 140, 200, 200);
    };
    draw();
    const timer = setInterval(draw, 33);
    const stream = canvas.captureStream(30);
    const track = stream.getVideoTracks()[0];
    const stop = track.stop.bind(track);
    track.stop = () => { clearInterval(timer); stop(); };
    return stream;
  };
})();
"""


def fake_camera_script(face_photo: np.ndarray) -> str:
    """The script, with the face (the same region write_camera_video shows) inlined."""
    face = camera_face(face_photo, 200)
    ok, encoded = cv2.imencode(".png", face[:, :, ::-1])
    if not ok:
        raise RuntimeError("could not encode the fake camera's face")
    url = "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode()
    return SCRIPT % {"face": url, "grey": ",".join([str(CAMERA_BACKGROUND)] * 3)}
