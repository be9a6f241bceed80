// @ts-check
// The engine's large files (the WebAssembly runtimes, the models, the label font) come over the network once
// and then from this browser's Cache Storage, under the content version the page sends with its arguments
// (app_pages/browser_live/assets.py): Streamlit serves a component's files with no validator, so the HTTP
// cache fetched all of them again on every visit. A new version replaces the old copy. Where Cache Storage
// is missing (a page over plain http on another host) or refuses, the file comes from the network.
// The runtimes are committed and served gzipped (a third of their size) and unpacked here.

const CACHE = 'fer-engine';
/** @type {Record<string, string>} */
let versions = {};

/** The content version of each file under the engine's folder, from the page. */
export function setVersions(/** @type {Record<string, string> | undefined} */ sent) {
  versions = sent ?? {};
}

const FREE_TICK_MS = 100;
// How long the engine waits on its cache before it takes the network. Cache Storage answered in 1-130 ms in
// Chromium and WebKitGTK here (2026-11-28), yet once in CI's loaded 2-core run a look-up took over 2 s of the
// page's free time and the live model came over the network again. A cache that hangs for good (WebKitGTK
// under WebDriver did, 2026-11-25) costs this wait once per visit, beside a first visit's 8.7 MB.
const CACHE_PATIENCE_MS = 10_000;

/**
 * `promise`, or `fallback` if it has not settled while this page had `ms` free to hear back: a cache that
 * hangs (WebKitGTK's, under its WebDriver, on a later visit) must not hold the engine up. Time counts in
 * short timer ticks, so a page busy elsewhere (the app's own page loading beside the engine on a slow
 * phone or a loaded machine) is not taken for a hang: a wall-clock race lost to such a stall fetched the
 * whole file again.
 * @template T, F @param {Promise<T>} promise @param {number} ms @param {F} fallback @returns {Promise<T | F>}
 */
export function within(promise, ms, fallback) {
  return new Promise((resolve, reject) => {
    let ticksLeft = Math.max(1, Math.ceil(ms / FREE_TICK_MS));
    let settled = false;
    const tick = () => {
      if (settled) return;
      ticksLeft -= 1;
      if (ticksLeft > 0) {
        setTimeout(tick, FREE_TICK_MS);
      } else {
        settled = true;
        resolve(fallback);
      }
    };
    setTimeout(tick, FREE_TICK_MS);
    promise.then((value) => {
      settled = true;
      resolve(value);
    }, (err) => {
      settled = true;
      reject(err);
    });
  });
}

async function openCache() {
  try {
    return globalThis.caches ? await within(caches.open(CACHE), CACHE_PATIENCE_MS, null) : null;
  } catch {
    return null;  // storage off (private windows, policies): the network every time
  }
}

/** @type {Promise<Cache | null> | undefined} */
let pagesCache;

/**
 * The engine's cache, opened once a page and shared by its files (they load side by side); null for the rest
 * of the page once it refused or ran out of patience, so a cache that hangs costs one wait, not one a file.
 */
function engineCache() {
  pagesCache ??= openCache();
  return pagesCache;
}

/** Forgets the page's cache, as a new page would: for tests, which load many pages' worth of files. */
export function forgetCache() {
  pagesCache = undefined;
}

const GAVE_UP = Symbol('the cache ran out of patience');
const REFUSED = Symbol('the cache refused the look-up');

/**
 * Says in the page's performance timeline why `path` came over the network (`why`): a repeat visit that
 * fetched a file again is otherwise silent about it, in a test's failure and in a visitor's console alike
 * (`performance.getEntriesByName('fer-engine-network')`).
 */
function markNetwork(/** @type {string} */ path, /** @type {string} */ why) {
  performance.mark('fer-engine-network', {detail: {path, why}});
}

/**
 * The bytes of `path` (relative to the engine's folder `base`), unpacked if `gzipped`.
 * @param {URL} base @param {string} path @param {{gzipped?: boolean}} [options] @returns {Promise<ArrayBuffer>}
 */
export async function engineFile(base, path, options = {}) {
  return (await engineResponse(base, path, options)).arrayBuffer();
}

/**
 * `path` as a response whose body streams in (unpacked if `gzipped`) as it arrives, for a consumer that
 * can start on the first bytes (the runtime's WebAssembly compiles while it downloads).
 * @param {URL} base @param {string} path @param {{gzipped?: boolean}} [options] @returns {Promise<Response>}
 */
export async function engineResponse(base, path, {gzipped = false} = {}) {
  const url = new URL(path, base).href;
  const version = versions[path];
  const key = `${url}?v=${version}`;
  const cache = version ? await engineCache() : null;
  /** @type {Response | undefined} */
  let response;
  let why = version ? 'no cache this page' : 'no version from the page';
  if (cache) {
    const found = await within(cache.match(key, {ignoreVary: true}), CACHE_PATIENCE_MS, GAVE_UP)
        .catch(() => REFUSED);
    if (found === GAVE_UP) {
      pagesCache = Promise.resolve(null);  // the page's later files take the network
      why = 'the cache ran out of patience';
    } else if (found === REFUSED) {
      why = 'the cache refused the look-up';
    } else if (found instanceof Response) {
      response = found;
    } else {
      why = 'not in the cache';
    }
  }
  if (!response) {
    markNetwork(path, why);
    response = await fetch(url);
    if (!response.ok) throw new Error(`${url} could not be loaded (HTTP ${response.status})`);
    if (cache) keep(cache, key, url, response.clone());  // not awaited: the engine goes on meanwhile
  }
  const body = gzipped && response.body ? response.body.pipeThrough(new DecompressionStream('gzip')) : response.body;
  return new Response(body);
}

/** Stores this version and drops older ones of the same file; a full or refusing cache changes nothing. */
async function keep(/** @type {Cache} */ cache, /** @type {string} */ key, /** @type {string} */ url,
                    /** @type {Response} */ response) {
  try {
    await cache.put(key, response);
    for (const old of await cache.keys()) {
      if (old.url.startsWith(`${url}?v=`) && old.url !== key) await cache.delete(old);
    }
  } catch {
    // this visit works from the network copy
  }
}
