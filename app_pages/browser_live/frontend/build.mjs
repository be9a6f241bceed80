// Builds the engine into ../static, the folder the app serves (or into the folder given as argument):
// `npm ci && npm run build` here, or `python app_pages/browser_live/build.py` from the project root,
// which also makes the detector's copies. The output is committed, so users and Streamlit Community Cloud
// never need node.
import {build} from 'esbuild';
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {pathToFileURL} from 'node:url';
import {gzipSync} from 'node:zlib';

const STATIC = process.argv[2] ? pathToFileURL(resolve(process.argv[2]) + '/') : new URL('../static/', import.meta.url);
const RUNTIME = new URL('runtime/', STATIC);
mkdirSync(RUNTIME, {recursive: true});

await build({
  entryPoints: ['src/main.js'],
  bundle: true,
  format: 'esm',
  minify: true,
  legalComments: 'eof',  // the bundled libraries' licence headers stay in the file
  target: 'es2022',
  outfile: new URL('engine.js', STATIC).pathname,
  logLevel: 'warning',
});

// The WebAssembly runtime, served beside the engine, gzipped (src/files.js unpacks it): LiteRT's plain CPU
// build and its glue, and its build for browsers without relaxed SIMD. Both networks run in it.
const LITERT = 'node_modules/@litertjs/core/wasm/';
for (const name of ['litert_wasm_internal.js', 'litert_wasm_compat_internal.js']) {
  copyFileSync(LITERT + name, new URL(name, RUNTIME));
}
for (const name of ['litert_wasm_internal.wasm', 'litert_wasm_compat_internal.wasm']) {
  writeFileSync(new URL(`${name}.gz`, RUNTIME), gzipSync(readFileSync(LITERT + name), {level: 9}));
}
