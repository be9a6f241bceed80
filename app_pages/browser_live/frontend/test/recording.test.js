// node --test: the recording's format, chosen from what the browser records, and the files named for it.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {clipFiles, keptWords, recordingFormat, startRecorder} from '../src/recording.js';

test('WebM where the browser records it, MP4 where it records only that (Safari), none where neither', () => {
  assert.equal(recordingFormat((type) => type === 'video/webm' || type === 'video/mp4').extension, 'webm');
  assert.equal(recordingFormat((type) => type === 'video/mp4').extension, 'mp4');
  assert.equal(recordingFormat(() => false), null);
  assert.equal(recordingFormat(), null);  // node has no MediaRecorder
});

test('every download is named for the format the clip holds', () => {
  const clip = {blob: null, format: recordingFormat((type) => type === 'video/mp4'), full: false, maxSeconds: 120};
  assert.deepEqual(clipFiles(clip), {clip: 'live_session.mp4', csv: 'live_session.csv', zip: 'live_session.zip'});
});

/** A MediaRecorder as WebKitGTK's behaves: records, may fail mid-stream, may never finish stopping. */
class FakeRecorder {
  static isTypeSupported(type) {
    return type === 'video/mp4';
  }

  constructor(stream, options) {
    this.options = options;
    this.state = 'inactive';
    FakeRecorder.last = this;
  }

  start() {
    this.state = 'recording';
  }

  stop() {
    if (this.state === 'inactive' || this.pipelineFailed) throw new Error('InvalidStateError');
    this.state = 'inactive';  // and never fires onstop
  }

  fail() {
    this.ondataavailable({data: {size: 3}});
    this.state = 'inactive';
    this.onerror?.(new Event('error'));
  }
}

/** `body(clips, recorder)` with FakeRecorder as the browser's MediaRecorder and timers under the test's control. */
function withFakeRecorder(t, body) {
  t.mock.timers.enable({apis: ['setTimeout']});
  globalThis.MediaRecorder = FakeRecorder;
  try {
    const clips = [];
    body(clips, startRecorder({captureStream: () => ({})}, 120, (clip) => clips.push(clip)));
  } finally {
    delete globalThis.MediaRecorder;
  }
}

test('a recorder that failed mid-stream ends in what it gave, and Stop afterwards does not throw', (t) => {
  withFakeRecorder(t, (clips, recorder) => {
    FakeRecorder.last.fail();
    assert.equal(clips.length, 1);
    recorder.stop();
    assert.equal(clips.length, 1);
    assert.equal(clips[0].format.extension, 'mp4');
  });
});

test('a recorder whose stop throws while it still says it records ends in what it gave, and Stop goes on', (t) => {
  withFakeRecorder(t, (clips, recorder) => {
    FakeRecorder.last.ondataavailable({data: {size: 3}});
    FakeRecorder.last.pipelineFailed = true;  // its error event has not come yet
    recorder.stop();
    assert.equal(clips.length, 1);
    assert.ok(clips[0].blob.size > 0);
  });
});

test('a recorder whose stop never completes still ends 10 s after Stop', (t) => {
  withFakeRecorder(t, (clips, recorder) => {
    recorder.stop();
    t.mock.timers.tick(9_999);
    assert.equal(clips.length, 0);
    t.mock.timers.tick(1);
    assert.equal(clips.length, 1);
  });
});

test('a clip cut at the recording limit says how much was kept, in minutes or seconds', () => {
  assert.equal(keptWords(120), 'The first 2 minutes were kept.');
  assert.equal(keptWords(60), 'The first minute was kept.');
  assert.equal(keptWords(90), 'The first 1.5 minutes were kept.');
  assert.equal(keptWords(30), 'The first 30 seconds were kept.');
});
