// node --test: the frame rate and the pace a slow device is given (pace.js).
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {FrameRate, Pace, SLOW_FPS} from '../src/pace.js';

/** Frames at `fps` for `seconds` from `from` ms, each costing `frameMs`; returns the changes said. */
function play(pace, rate, fps, seconds, from, frameMs = 5) {
  const changes = [];
  for (let t = from; t < from + seconds * 1000; t += 1000 / fps) {
    const change = pace.update(frameMs, rate.tick(t), t);
    if (change) changes.push([Math.round(t), change]);
  }
  return changes;
}

test('the rate is the frames shown a second over the last two seconds', () => {
  const rate = new FrameRate();
  for (let t = 0; t <= 3000; t += 40) rate.tick(t);
  assert.ok(Math.abs(rate.fps - 25) < 0.01, String(rate.fps));
  assert.equal(new FrameRate().tick(0), 0);
});

test('a fast device keeps full work: every face read on every frame, faces found as the rules say', () => {
  const pace = new Pace(3, 0);
  assert.deepEqual(play(pace, new FrameRate(), 30, 10, 0), []);
  assert.deepEqual([pace.classifyEvery, pace.detectEvery], [1, 3]);
});

test('a slow device reads faces less often first, then finds them less often, up to a limit', () => {
  const pace = new Pace(3, 0);
  const changes = play(pace, new FrameRate(), 10, 20, 0);
  assert.deepEqual(changes.map(([, c]) => c), ['slow']);
  assert.ok(changes[0][0] >= 3000, 'the first seconds are not judged');
  assert.deepEqual([pace.classifyEvery, pace.detectEvery], [3, 12]);
});

test('a device that recovers goes back to full work and says so once, past a margin', () => {
  const pace = new Pace(3, 0);
  const rate = new FrameRate();
  play(pace, rate, 10, 10, 0);
  assert.deepEqual(play(pace, rate, SLOW_FPS + 1, 4, 10_000), []);  // inside the margin: still slow
  const changes = play(pace, rate, 30, 30, 14_000, 2);
  assert.deepEqual(changes.map(([, c]) => c), ['recovered']);
  assert.deepEqual([pace.classifyEvery, pace.detectEvery], [1, 3]);
});

test('a busy device at full rate does not take back work it shed', () => {
  const pace = new Pace(3, 0);
  const rate = new FrameRate();
  play(pace, rate, 10, 6, 0);
  play(pace, rate, 30, 3, 6000, 20);  // the rate window fills with full-rate frames
  const shed = [pace.classifyEvery, pace.detectEvery];
  assert.ok(shed[0] > 1, String(shed));
  play(pace, rate, 30, 10, 9000, 20);  // 20 ms of every 33: 60% busy
  assert.deepEqual([pace.classifyEvery, pace.detectEvery], shed);
  play(pace, rate, 30, 10, 19_000, 5);  // 15% busy: the work comes back
  assert.deepEqual([pace.classifyEvery, pace.detectEvery], [1, 3]);
});
