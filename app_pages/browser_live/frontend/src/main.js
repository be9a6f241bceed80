// The Live page's browser engine: the camera, YuNet and the shipped live model all run in this page;
// no video leaves the browser. Per-frame face records go to the Python page in batches, where they feed
// the same timeline, charts and CSV as the server engine's. This module holds the page's state: the
// status line, Start and Stop, and the frame loop; each part it drives has a module of its own.
import {classifyFaces} from './faces.js';
import {readingOrder, toFramePixels} from './boxes.js';
import {drawFaces, drawFps} from './draw.js';
import {EngineModels} from './models.js';
import {connect, setHeight, setValue} from './streamlit.js';
import {FaceTracker} from './tracker.js';
import {Outbox, faceRecord} from './outbox.js';
import {setVersions} from './files.js';
import {clipDownloads, startRecorder} from './recording.js';
import {FrameRate, Pace} from './pace.js';
import {cameraProblem, closeCamera, openCamera} from './camera.js';

const BASE = new URL('./', import.meta.url);
const MAX_PROCESS_SIDE = 1280;  // a 4K camera is analysed and shown at this size: the faces stay large

const ui = {
  button: /** @type {HTMLButtonElement} */ (document.getElementById('start')),
  status: /** @type {HTMLElement} */ (document.getElementById('status')),
  canvas: /** @type {HTMLCanvasElement} */ (document.getElementById('view')),
  video: /** @type {HTMLVideoElement} */ (document.getElementById('camera')),
  clip: /** @type {HTMLElement} */ (document.getElementById('clip')),
};
/** For the tests and benchmarks: hooks on the page's window, set by nothing in the app itself. */
const hooks = /** @type {any} */ (window);
const ctx = ui.canvas.getContext('2d', {willReadFrequently: true});
const detectionCanvas = document.createElement('canvas');
const detectionCtx = detectionCanvas.getContext('2d', {willReadFrequently: true});

let args = null;  // the page's latest arguments; args.rules: what both engines share (browser_live/rules.py)
// The detector, the emotion model and the font. For the tests: each new classifier alone, on a grey face
// already at the model's size, and analyzeStill; and the classifier itself, which a test slows down.
const models = new EngineModels(BASE, (loaded) => {
  hooks.ferEngine = {modelFile: loaded.model.file, analyzeStill, classifier: loaded,
                     classifyFace: async (pixels) => Array.from(await loaded.classify(pixels))};
});
let stream = null;
let run = null;  // the current stream's state
let outbox = null;  // the current (or last) stream's frames on their way to the page
let recording = null;  // the last stream's annotated clip (recording.js), kept in this browser only

let saysReady = false;  // the status line is the ready line (which follows the page's settings until Start)

function say(text, kind = 'info') {
  saysReady = false;
  ui.status.textContent = text;
  ui.status.className = kind;
  resize();
}

function resize() {
  setHeight(document.body.scrollHeight + 4);
}

function report() {
  // The frames the page has not acknowledged yet (so a batch lost between two script runs is resent).
  if (!outbox) return;
  setValue(outbox.report());
  if (run) run.lastReport = performance.now();
}

// The engine could not start: the kind goes to the page, which words it (args.problems, from Python).
function reportProblem(kind) {
  setValue({run: outbox?.run ?? null, state: 'stopped', frames: [], error: kind});
}

function problemText(kind) {
  return args?.problems?.[kind] ?? kind;
}

async function ensureModels() {
  await models.ensure(args);
  ui.canvas.hidden = false;
}

// The runtimes or models did not load (WebAssembly turned off or blocked, a file that did not arrive):
// said here, and reported to the page, which offers the server engine.
function runtimeFailed(err) {
  ui.canvas.hidden = true;  // nothing will be drawn: the page's button to the server engine moves up to the eye
  const kind = typeof WebAssembly === 'undefined' ? 'webassembly_off' : 'runtime';
  const detail = kind === 'runtime' ? ` (${err?.message ?? err})` : '';
  say(`${problemText(kind)}${detail} Choose "on the server" above to analyse the video there.`, 'error');
  reportProblem(kind);
}

async function start() {
  ui.button.disabled = true;
  try {
    say('Loading the face detector and the emotion model…');
    await ensureModels();
  } catch (err) {
    ui.button.disabled = false;
    runtimeFailed(err);
    return;
  }
  try {
    stream = await openCamera();
  } catch (err) {
    ui.button.disabled = false;
    const kind = cameraProblem(err);
    say(kind === 'camera' ? `${problemText(kind)} (${err?.name ?? 'error'}: ${err?.message ?? err})` : problemText(kind),
        'error');
    reportProblem(kind);
    return;
  }
  try {
    ui.video.srcObject = stream;
    await ui.video.play();
  } catch (err) {
    startFailed(err);
    return;
  }
  const detectEvery = args.rules.detection.every_n_frames;
  const started = performance.now();
  run = {id: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, seq: 0, rules: args.rules,
         tracker: new FaceTracker(args.settings.smoothing, args.rules.tracking), boxes: [], raw: [],
         sinceDetection: detectEvery, pace: new Pace(detectEvery, started), rate: new FrameRate(), cursor: 0,
         started, busy: false, lastReport: started, recorder: null};
  outbox = new Outbox(run.id, args.limits);
  ui.clip.replaceChildren();
  ui.button.textContent = 'Stop';
  ui.button.disabled = false;
  say(runningStatus());
  if (args.settings.record) startRecording();
  ui.video.requestVideoFrameCallback(onFrame);
  report();
}

// Anything else that fails while starting: the camera is released and the page stays usable.
function startFailed(err) {
  closeCamera(stream);
  stream = null;
  ui.video.srcObject = null;
  run = null;
  ui.button.textContent = 'Start';
  ui.button.disabled = false;
  say(`${problemText('camera')} (${err?.name ?? 'error'}: ${err?.message ?? err})`, 'error');
  reportProblem('camera');
}

function stop() {
  if (!run) return;
  const finished = run;
  finished.recorder?.stop();
  closeCamera(stream);
  stream = null;
  ui.video.srcObject = null;
  ui.button.textContent = 'Start';
  say('Stopped. Press Start to analyse again.');
  run = null;
  // One report: the frames the page has not taken yet, "stopped", and how many more follow as it acknowledges.
  outbox.state = 'stopped';
  outbox.recorded = !!finished.recorder;
  report();
  showDownloads();  // a clip that ended before Stop (its recorder failed mid-stream) is offered now
}

// The annotated canvas, recorded in this browser (recording.js). A browser that cannot record says so, and
// the analysis goes on without a clip.
function startRecording() {
  recording = null;
  try {
    run.recorder = startRecorder(ui.canvas, run.rules.recording.max_seconds, (clip) => {
      recording = clip;
      showDownloads();
    });
  } catch (err) {
    say(`This browser cannot record the video (${err?.message ?? err}); the analysis goes on without a recording.`,
        'warning');
  }
}

// After Stop: the last stream's clip to download, with the timeline once the page has sent it.
function showDownloads() {
  if (!recording || run) return;
  ui.clip.replaceChildren(...clipDownloads(recording, args?.timeline_csv));
  resize();
}

// Called for each camera frame the browser presents. A frame that arrives while the last one is still
// being analysed is not dropped: it is analysed as soon as that one is done (the <video> holds the newest).
async function onFrame(now, meta) {
  const current = run;
  if (!current || !stream) return;
  ui.video.requestVideoFrameCallback(onFrame);
  if (current.busy) {
    current.waiting = meta;
    return;
  }
  current.busy = true;
  let next = meta;
  while (next && run === current) {
    current.waiting = null;
    try {
      await processFrame(current, next);
    } catch (err) {
      if (!current.errorShown) {
        current.errorShown = true;
        say(`Processing one frame failed (${err?.message ?? err}); the stream carries on.`, 'error');
      }
    }
    next = current.waiting;
  }
  current.busy = false;
}

async function processFrame(current, meta) {
  const started = performance.now();
  const settings = args.settings;
  const vw = ui.video.videoWidth, vh = ui.video.videoHeight;
  if (!vw || !vh) return;
  const scale = Math.min(1, MAX_PROCESS_SIDE / Math.max(vw, vh));
  const width = Math.round(vw * scale), height = Math.round(vh * scale);
  if (ui.canvas.width !== width || ui.canvas.height !== height) {
    ui.canvas.width = width;
    ui.canvas.height = height;
    resize();
  }
  ctx.save();
  if (settings.mirror) {
    ctx.translate(width, 0);
    ctx.scale(-1, 1);
  }
  ctx.drawImage(ui.video, 0, 0, width, height);
  ctx.restore();
  current.tracker.smoothing = settings.smoothing;
  if (current.sinceDetection >= current.pace.detectEvery) {
    current.boxes = await findFaces(ui.canvas, settings.min_confidence);
    current.raw = new Array(current.boxes.length).fill(null);
    current.sinceDetection = 1;
  } else {
    current.sinceDetection += 1;
  }
  const model = models.classifier;
  const reading = current.seq % current.pace.classifyEvery === 0;  // else the faces keep their last reading
  if (reading || current.raw.some((p) => !p)) {
    const image = ctx.getImageData(0, 0, width, height);
    current.raw = await classifyFaces(model, image, current.boxes, current.raw, current, current.rules.crop,
                                      reading ? undefined : 0);
  }
  const tracked = current.tracker.update(current.boxes.map((box, i) => ({box, probs: current.raw[i]})));
  const names = model.model.class_names;
  const faces = tracked.map(({id, box, probs}) => {
    const best = probs.indexOf(Math.max(...probs));
    return {id, box, probs, label: names[best], score: probs[best]};
  });
  drawFaces(ctx, faces, names, settings.show_probabilities, current.rules.drawing);
  const fps = current.rate.tick(performance.now());
  if (fps > 0) drawFps(ctx, fps, current.rules.drawing);
  const shownAt = performance.now();
  // Stop came while this frame was analysed: it stays drawn, but the timeline (and the status line) end at Stop.
  if (run !== current) return;
  // Benchmarks read frames here (and what each cost, in ms); nothing in the app sets it.
  hooks.__ferFrameShown?.(ui.canvas, meta, shownAt, shownAt - started);
  current.seq += 1;
  outbox.push({seq: current.seq, t: Number(((shownAt - current.started) / 1000).toFixed(3)),
               fps: Number(fps.toFixed(2)), ms: Number((shownAt - started).toFixed(1)), faces: faces.map(faceRecord)});
  sayPace(current.pace.update(shownAt - started, fps, shownAt), fps, current.pace.detectEvery);
  if (shownAt - current.lastReport >= (args.report_seconds ?? 2) * 1000) report();
}

/** The faces in a canvas, as the server finds them in a video frame: YuNet on a copy scaled to
 *  the detection size (yunet.js detectionPlan), boxes back in the canvas's pixels, in reading order. */
async function findFaces(canvas, minConfidence) {
  const {width, height} = canvas;
  const rules = args.rules.detection;
  const detector = models.detector;
  const plan = detector.plan(height, width);
  detectionCanvas.width = plan.width;
  detectionCanvas.height = plan.height;
  detectionCtx.drawImage(canvas, 0, 0, detectionCanvas.width, detectionCanvas.height);
  const small = detectionCtx.getImageData(0, 0, detectionCanvas.width, detectionCanvas.height);
  const found = await detector.detect(small, plan.canvas, minConfidence);
  return readingOrder(toFramePixels(found, detectionCanvas.width / width, width, height, rules.max_faces));
}

/** For the tests: one still image (a data URL) through detection and the classifier, no tracking. */
async function analyzeStill(url, minConfidence = 0.8) {
  await ensureModels();
  const bitmap = await createImageBitmap(await (await fetch(url)).blob());
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const still = canvas.getContext('2d', {willReadFrequently: true});
  still.drawImage(bitmap, 0, 0);
  const boxes = await findFaces(canvas, minConfidence);
  const image = still.getImageData(0, 0, canvas.width, canvas.height);
  const probs = await classifyFaces(models.classifier, image, boxes, new Array(boxes.length).fill(null), {cursor: 0},
                                    args.rules.crop);
  return boxes.map((box, i) => ({box: [box.x, box.y, box.w, box.h], score: box.score, probs: Array.from(probs[i])}));
}

// A slow device does less work per frame (pace.js); the page's line says so while the rate stays low.
function sayPace(/** @type {import('./pace.js').PaceChange} */ change, /** @type {number} */ fps,
                 /** @type {number} */ detectEvery) {
  if (change === 'slow') {
    const shown = fps.toFixed(0);
    say(`This device analyses ${shown} frame${shown === '1' ? '' : 's'} a second; faces are found every ${detectEvery} frames.`,
        'warning');
  } else if (change === 'recovered') {
    say(runningStatus());
  }
}

function sayReady() {
  say(args.settings.record ? 'Ready: press Start and allow the camera. The annotated video will be recorded in this browser.'
    : 'Ready: press Start and allow the camera.');
  saysReady = true;
}

function runningStatus() {
  return `Running in this browser (${models.classifier.accelerator === 'webgpu' ? 'WebGPU' : 'WebAssembly'}); the video stays on this device.`;
}

document.addEventListener('visibilitychange', () => {
  if (!run) return;
  if (document.hidden) {
    report();
    say('Paused while this tab is hidden; it carries on when you come back.', 'warning');
  } else {
    run.pace.forgetSlow();
    say(runningStatus());
  }
});

ui.button.addEventListener('click', () => (run ? stop() : start().catch(startFailed)));

connect((newArgs) => {
  const modelChanged = args && newArgs.model.file !== args.model.file;
  args = newArgs;
  setVersions(newArgs.assets);
  // A backlog (a hidden tab, a page that lost its session) goes out as fast as the page takes it, to the
  // last frame after Stop.
  if (outbox?.acknowledge(newArgs.acknowledged) && outbox.owesReport()) report();
  showDownloads();
  if (modelChanged && run) ensureModels().catch((err) => say(`The new model could not be loaded (${err.message}); the last one carries on.`, 'error'));
  if (!models.started) {  // warm up before Start, so the first frame is analysed at once
    ensureModels().then(() => {
      performance.mark('engine-ready');  // what benchmarks time the ready state by, in the browser's own clock
      if (run) return;
      sayReady();
      setValue({run: null, state: 'ready', frames: []});  // the page draws the empty chart meanwhile
    }).catch(runtimeFailed);
  } else if (!run && saysReady) {
    sayReady();  // "Record the annotated video" turned on or off on the page: said before Start
  }
  resize();
});
