// node --test: the cache's guard against a hang (files.js) tells a hang from a page that was busy, and the
// engine's files share one cache a page.
import assert from 'node:assert/strict';
import {beforeEach, test} from 'node:test';
import {engineResponse, forgetCache, setVersions, within} from '../src/files.js';

const never = new Promise(() => undefined);
const after = (ms, value) => new Promise((resolve) => setTimeout(() => resolve(value), ms));

beforeEach(() => performance.clearMarks('fer-engine-network'));  // each test reads only its own page's marks

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

/** A Cache Storage stand-in that counts its calls; `match` answers with `answer(key)` (never, when left out). */
function countingCaches(answer) {
  const calls = {open: 0, match: 0};
  const cache = {
    match: (key) => { calls.match += 1; return answer ? Promise.resolve(answer(key)) : never; },
    put: () => Promise.resolve(),
    keys: () => Promise.resolve([]),
    delete: () => Promise.resolve(true),
  };
  return {calls, caches: {open: () => { calls.open += 1; return Promise.resolve(cache); }}};
}

/** Loads `paths` side by side, as the engine's detector, classifier and runtimes do. */
async function loadPage(paths, caches, fetched) {
  forgetCache();
  globalThis.caches = caches;
  globalThis.fetch = async (url) => { fetched.push(String(url)); return new Response('from the network'); };
  setVersions(Object.fromEntries(paths.map((path) => [path, 'v1'])));
  const base = new URL('https://app.example/engine/');
  return Promise.all(paths.map(async (path) => (await engineResponse(base, path)).text()));
}

test('the files of one page share one opening of the cache', async () => {
  const {calls, caches} = countingCaches(() => new Response('from the cache'));
  const fetched = [];
  const bodies = await loadPage(['a.wasm', 'b.tflite', 'c.tflite'], caches, fetched);
  assert.deepEqual(bodies, ['from the cache', 'from the cache', 'from the cache']);
  assert.deepEqual([calls.open, calls.match, fetched.length], [1, 3, 0]);
});

test('a cache that hangs is waited for once, then the page\'s later files skip it', async (t) => {
  t.mock.timers.enable({apis: ['setTimeout']});
  const {calls, caches} = countingCaches();
  const fetched = [];
  const first = loadPage(['a.wasm', 'b.tflite'], caches, fetched);
  for (let tick = 0; tick < 120 && fetched.length < 2; tick += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    t.mock.timers.tick(100);
  }
  assert.deepEqual(await first, ['from the network', 'from the network']);
  // The label font comes later on the same page: straight from the network, no second wait.
  globalThis.fetch = async (url) => { fetched.push(String(url)); return new Response('font'); };
  const font = await (await engineResponse(new URL('https://app.example/engine/'), 'a.wasm')).text();
  assert.equal(font, 'font');
  assert.deepEqual([calls.open, calls.match, fetched.length], [1, 2, 3]);
  assert.deepEqual(networkReasons(), [['a.wasm', 'the cache ran out of patience'],
    ['b.tflite', 'the cache ran out of patience'], ['a.wasm', 'no cache this page']]);
});

/** What the page's performance timeline says of each file that came over the network. */
function networkReasons() {
  return performance.getEntriesByName('fer-engine-network').map(({detail}) => [detail.path, detail.why]);
}

test('each file that comes over the network says why: missing, refused, or no version to look it up by', async () => {
  const {caches} = countingCaches((key) => (key.includes('refused') ? Promise.reject(new Error('storage error'))
    : undefined));
  await loadPage(['missing.tflite', 'refused.tflite'], caches, []);
  setVersions({});
  await (await engineResponse(new URL('https://app.example/engine/'), 'unversioned.ttf')).text();
  assert.deepEqual(networkReasons(), [['missing.tflite', 'not in the cache'],
    ['refused.tflite', 'the cache refused the look-up'], ['unversioned.ttf', 'no version from the page']]);
});

test('a file found in the cache leaves no mark', async () => {
  await loadPage(['a.wasm'], countingCaches(() => new Response('from the cache')).caches, []);
  assert.deepEqual(networkReasons(), []);
});
