// The WebAssembly runtimes are committed and served gzipped (a third of their size: the repository stays
// small enough to clone quickly and to travel) and unpacked here, in the browser, before they compile.

/** The bytes of the gzipped file at `url`, unpacked. */
export async function fetchGzipped(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} could not be loaded (HTTP ${response.status})`);
  return new Response(response.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
}
