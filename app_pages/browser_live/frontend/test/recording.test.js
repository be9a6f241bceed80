// node --test: the recording's format, chosen from what the browser records, and the files named for it.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {clipFiles, recordingFormat} from '../src/recording.js';

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
