// @ts-check
// The camera: opened at the width both engines ask for, released on every way out, and each way it can
// fail named as a problem kind the Python page words (app_pages/browser_live/reports.py PROBLEMS).

/** @typedef {'camera_blocked' | 'camera_missing' | 'camera_busy' | 'camera'} CameraProblem */

/** The camera's stream; throws what getUserMedia throws (a page without the API: as if blocked). */
export async function openCamera() {
  if (!globalThis.navigator?.mediaDevices?.getUserMedia) throw Object.assign(new Error('no camera API'), {name: 'SecurityError'});
  // A width only: the browser keeps the camera's own shape (a 16:9 camera is not cropped to 4:3).
  return navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}}, audio: false});
}

/** Stops every track of `stream` (the camera light goes off). */
export function closeCamera(/** @type {MediaStream | null} */ stream) {
  stream?.getTracks().forEach((track) => track.stop());
}

/** The problem kind for an error from openCamera. @returns {CameraProblem} */
export function cameraProblem(/** @type {{name?: string} | null | undefined} */ err) {
  switch (err?.name) {
    case 'NotAllowedError': case 'SecurityError': return 'camera_blocked';
    case 'NotFoundError': case 'OverconstrainedError': return 'camera_missing';
    case 'NotReadableError': case 'AbortError': return 'camera_busy';
    default: return 'camera';
  }
}
