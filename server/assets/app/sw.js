// The field app's service worker: the app shell from the cache, so the app
// opens with no network at all after its first visit. The API (/v1/…) is
// never cached: data lives in IndexedDB (store.js), not here.
const VERSION = "gridsync-app-1";
const SHELL = ["/app/", "/app/app.js", "/app/store.js", "/app/protocol.js", "/app/dom.js", "/app/style.css",
  "/app/icon.svg", "/app/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== VERSION).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The shell: the network first (a new server's app is the one shown), the
// cache when there is no network.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const path = url.pathname === "/app" ? "/app/" : url.pathname;
  if (!SHELL.includes(path)) return;
  event.respondWith(fetch(event.request).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(VERSION).then((c) => c.put(path, copy));
    }
    return res;
  }).catch(() => caches.match(path).then((hit) => hit || Response.error())));
});
