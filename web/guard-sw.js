// The guard page's service worker (served as /guard-sw.js, scope /guard): it keeps the page and
// every file it loads, so the page opens in a basement with no network, and the last answers of
// the guard's own reads (who am I, my rounds, my tasks) to show until the network is back.
// Pages and files: the network first (an upgrade shows at once), the kept copy when there is none.
// Writes are never cached or replayed here: the page's own queue (IndexedDB) sends them.
const CACHE = "mcc-guard-v1";
const READS_CACHE = "mcc-guard-reads"; // the guard's own last answers; the page empties it when another guard signs in
const SHELL = [
  "/guard",
  "/static/common.css",
  "/static/guard.css",
  "/static/guard.webmanifest",
  "/static/icon.svg",
  "/static/guard.js",
  "/static/action-queue.js",
  "/static/api.js",
  "/static/dom.js",
  "/static/event-text.js",
  "/static/guard-rounds.js",
  "/static/guard-steps.js",
  "/static/i18n.js",
  "/static/live.js",
  "/static/messages-admin-lists.js",
  "/static/messages-admin.js",
  "/static/messages-common.js",
  "/static/messages-console.js",
  "/static/messages-duty.js",
  "/static/messages-errors.js",
  "/static/messages-tasks.js",
  "/static/messages-wall.js",
  "/static/outbox-store.js",
  "/static/qr-reader.js",
  "/static/vendor/zxing-wasm/es/reader/index.js",
  "/static/vendor/zxing-wasm/es/share.js",
  "/static/vendor/zxing-wasm/reader/zxing_reader.wasm",
];
const READS = ["/api/guard/me", "/api/guard/rounds", "/api/tasks"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("mcc-guard-") && n !== CACHE && n !== READS_CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

async function networkFirst(request, key, name = CACHE) {
  const cache = await caches.open(name);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(key, response.clone());
    if (response.status >= 500) {
      // The console is down behind its TLS proxy (502, 503, 504): the kept copy is better.
      const kept = await cache.match(key);
      if (kept) return kept;
    }
    return response;
  } catch (err) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/guard") {
    event.respondWith(networkFirst(request, "/guard"));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(networkFirst(request, url.pathname));
  } else if (READS.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname + url.search, READS_CACHE));
  }
});
