// node --test: the cache's guard against a hang (files.js) tells a hang from a page that was busy.
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {within} from '../src/files.js';

const never = new Promise(() => undefined);
const after = (ms, value) => new Promise((resolve) => setTimeout(() => resolve(value), ms));

/** Holds this thread for `ms` without yielding, as a page busy rendering does. */
function busy(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* the page's own work */ }
}

test('an answer in time is passed on, a failure too', async () => {
  assert.equal(await within(after(20, 'cached'), 500, 'network'), 'cached');
  await assert.rejects(within(Promise.reject(new Error('refused')), 500, 'network'), /refused/);
});

test('a cache that never answers gives way to the fallback after about the time allowed', async () => {
  const started = Date.now();
  assert.equal(await within(never, 300, 'network'), 'network');
  const waited = Date.now() - started;
  assert.ok(waited >= 290 && waited < 1500, String(waited));
});

test('time the page spends busy elsewhere does not count against the cache', async () => {
  // The cache answers 50 ms after the page is free again, as an answer queued behind the page's own work
  // does; a wall-clock race had run out meanwhile and fetched the whole file again.
  /** @type {(value: string) => void} */
  let answer = () => undefined;
  const guarded = within(new Promise((resolve) => { answer = resolve; }), 300, 'network');
  busy(600);
  setTimeout(() => answer('cached'), 50);
  assert.equal(await guarded, 'cached');
});

test('a busy page still gives up on a cache that never answers', async () => {
  const guarded = within(never, 300, 'network');
  busy(600);
  assert.equal(await guarded, 'network');
});
