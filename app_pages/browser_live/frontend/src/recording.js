// @ts-check
// The annotated canvas, recorded in this browser (never sent anywhere) in a format the browser can record:
// WebM in Chromium and Firefox, MP4 in Safari (WebKit records no WebM). After Stop it is offered alone and,
// once the page sends the timeline, zipped with it; every file is named for the format it holds.
import {zipSync} from 'fflate';

/** @typedef {{mimeType: string, extension: string, name: string}} Format */
/** @typedef {{blob: Blob, format: Format, full: boolean, maxSeconds: number}} Clip */

/** @type {Format[]} */
const FORMATS = [{mimeType: 'video/webm', extension: 'webm', name: 'WebM'},
                 {mimeType: 'video/mp4', extension: 'mp4', name: 'MP4'}];
const BASENAME = 'live_session';

/**
 * The first format this browser records in; null where it records none (or has no MediaRecorder).
 * @param {(mimeType: string) => boolean} [isTypeSupported] @returns {Format | null}
 */
export function recordingFormat(isTypeSupported) {
  const supported = isTypeSupported ?? ((type) => typeof MediaRecorder !== 'undefined' && MediaRecorder.isTypeSupported(type));
  return FORMATS.find((format) => supported(format.mimeType)) ?? null;
}

/**
 * Starts recording `canvas` for at most `maxSeconds`; `done` gets the clip when it stops (by `stop()` or at
 * the limit). Throws, with the reason in words, where the browser cannot record: the caller carries on without.
 * @param {HTMLCanvasElement} canvas @param {number} maxSeconds @param {(clip: Clip) => void} done
 * @returns {MediaRecorder}
 */
export function startRecorder(canvas, maxSeconds, done) {
  const format = recordingFormat();
  if (!format) throw new Error('this browser records neither WebM nor MP4');
  const recorder = new MediaRecorder(canvas.captureStream(30), {mimeType: format.mimeType, videoBitsPerSecond: 1_000_000});
  /** @type {Blob[]} */
  const chunks = [];
  let full = false;
  recorder.ondataavailable = (e) => {
    if (e.data.size) chunks.push(e.data);
  };
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done({blob: new Blob(chunks, {type: format.mimeType}), format, full, maxSeconds});
  };
  recorder.onstop = finish;
  recorder.onerror = finish;  // a pipeline that fails mid-stream (WebKitGTK's) ends in what it gave
  // A recorder whose stop never completes (WebKitGTK's, on a loaded machine) still ends in what it gave,
  // and one that already ended on its own, or whose stop throws for another reason, ends at once: Stop
  // must go on to close the camera and send the last report whatever the recorder does.
  const stop = recorder.stop.bind(recorder);
  recorder.stop = () => {
    if (recorder.state === 'inactive') {
      finish();
      return;
    }
    try {
      stop();
    } catch {
      finish();  // a pipeline that failed while its state still said "recording" (its error event still queued)
      return;
    }
    setTimeout(finish, 10_000);
  };
  recorder.start(1000);
  setTimeout(() => {
    if (recorder.state === 'recording') {
      full = true;
      recorder.stop();
    }
  }, maxSeconds * 1000);
  return recorder;
}

/** The files a clip is offered as: the clip alone, and with the timeline's CSV in one ZIP where there is one. */
export function clipFiles(/** @type {Clip} */ clip) {
  return {clip: `${BASENAME}.${clip.format.extension}`, csv: `${BASENAME}.csv`, zip: `${BASENAME}.zip`};
}

/** The clip and the timeline in one ZIP, the clip stored as it is (video is compressed already). */
export async function zipWithTimeline(/** @type {Clip} */ clip, /** @type {string} */ csv) {
  const names = clipFiles(clip);
  const video = new Uint8Array(await clip.blob.arrayBuffer());
  const archive = zipSync({[names.clip]: [video, {level: 0}], [names.csv]: new TextEncoder().encode(csv)});
  return new Blob([/** @type {BlobPart} */ (archive)], {type: 'application/zip'});
}

/** How much of a clip that reached the recording limit was kept, in words. */
export function keptWords(/** @type {number} */ maxSeconds) {
  const minutes = maxSeconds / 60;
  if (minutes === 1) return 'The first minute was kept.';
  return `The first ${minutes > 1 ? `${Number(minutes.toFixed(1))} minutes` : `${maxSeconds} seconds`} were kept.`;
}

/**
 * What the page shows for a finished clip: its download buttons (the clip alone, and with the timeline
 * `csv` in a ZIP once the page has sent it), or why there is nothing to download.
 * @param {Clip} clip @param {string | null | undefined} csv @returns {HTMLElement[]}
 */
export function clipDownloads(clip, csv) {
  const words = (/** @type {string} */ text) => Object.assign(document.createElement('span'), {textContent: text});
  if (!clip.blob.size) {  // a recorder that ran and gave nothing (WebKitGTK without GStreamer's fMP4 muxer)
    return [words('This browser recorded no video (its recorder gave an empty file); the timeline is on the page.')];
  }
  const names = clipFiles(clip);
  const alone = document.createElement('button');
  alone.textContent = `Download the clip (${clip.format.name})`;
  alone.onclick = () => download(clip.blob, names.clip);
  /** @type {HTMLElement[]} */
  const controls = [alone];
  if (csv) {
    const both = document.createElement('button');
    both.textContent = 'Download the clip and the timeline (ZIP)';
    both.onclick = async () => download(await zipWithTimeline(clip, csv), names.zip);
    controls.push(both);
  }
  if (clip.full) controls.push(words(keptWords(clip.maxSeconds)));
  return controls;
}

/** Saves `blob` as `name` through the browser's own download. */
function download(/** @type {Blob} */ blob, /** @type {string} */ name) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}
