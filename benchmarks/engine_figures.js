// Run in the Live page's engine iframe before its own scripts (benchmarks/browser_matrix.py): records each
// frame the engine draws (the hook main.js calls; nothing in the app sets it), sums what the engine's
// files cost to download, and reads when the engine was ready (its 'engine-ready' mark) in the browser's own
// clock, from the start of the page's navigation: the visitor's wait, without a test driver's polling.
(() => {
  const frames = [];
  window.__ferFrameShown = (canvas, meta, shownAt, ms) => frames.push([shownAt, ms]);
  // Figures over the last `seconds`: frames drawn a second, median ms a frame, and the engine's files:
  // bytes as served (encodedBodySize) and bytes that came over the network (transferSize: 0 from the cache).
  window.__engineFigures = (seconds) => {
    const now = performance.now();
    const recent = frames.filter(([at]) => now - at <= seconds * 1000);
    const costs = recent.map(([, ms]) => ms).sort((a, b) => a - b);
    const files = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
      .filter((entry) => entry);
    const [ready] = performance.getEntriesByName('engine-ready');
    const readySeconds = ready ? (performance.timeOrigin + ready.startTime - window.top.performance.timeOrigin) / 1000
      : null;
    return {ready: readySeconds, fps: recent.length / seconds, ms: costs.length ? costs[Math.floor(costs.length / 2)] : null,
            files: files.length, bytes: files.reduce((sum, e) => sum + (e.encodedBodySize || 0), 0),
            transferred: files.reduce((sum, e) => sum + (e.transferSize || 0), 0)};
  };
})();
