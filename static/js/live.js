/* The live stream: one WebSocket to /ws/ per page (protocol: docs/events.md).
 *
 * - Reconnects by itself after a drop, waiting 0.5 s, 1 s, 2 s ... up to 15 s (with jitter).
 * - After a reconnect it sends {"type": "sync", "since": <last id seen>} so the server replays
 *   what was missed, and refreshes every live fragment once (cheap, and right even when the
 *   replay log no longer reaches back: "complete": false).
 * - Every element with data-live-url and data-live-events is a live fragment: an event whose
 *   name is listed there makes htmx GET the URL and swap the element (outerHTML). Several
 *   events in a burst cost one request per fragment.
 * - data-live-tenant limits a fragment to events of that tenant.
 */
(function () {
  "use strict";
  var lastId = null;
  var attempt = 0;
  var socket = null;
  var pending = new Map(); // element id -> timer
  var statusEl = document.getElementById("live-status");

  function setStatus(state) {
    if (!statusEl) return;
    statusEl.dataset.state = state;
    var label = state === "live" ? statusEl.dataset.labelLive : statusEl.dataset.labelOffline;
    if (label) statusEl.textContent = label;
  }

  function refresh(el) {
    if (!el.id || pending.has(el.id)) return;
    pending.set(el.id, setTimeout(function () {
      pending.delete(el.id);
      var current = document.getElementById(el.id);
      if (!current || !window.htmx) return;
      window.htmx.ajax("GET", current.dataset.liveUrl, { target: "#" + el.id, swap: "outerHTML" });
    }, 80));
  }

  function fragments() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-url][data-live-events]"));
  }

  function dispatch(message) {
    if (typeof message.id === "number" && (lastId === null || message.id > lastId)) {
      lastId = message.id;
    }
    var name = message.event;
    fragments().forEach(function (el) {
      var names = el.dataset.liveEvents.split(/\s+/);
      if (names.indexOf(name) === -1) return;
      if (el.dataset.liveTenant && String(message.tenant) !== el.dataset.liveTenant) return;
      refresh(el);
    });
    document.dispatchEvent(new CustomEvent("live:event", { detail: message }));
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/");
    socket.onopen = function () { setStatus("live"); };
    socket.onmessage = function (frame) {
      var message;
      try { message = JSON.parse(frame.data); } catch (e) { return; }
      if (message.event === "hello") {
        var reconnected = attempt > 0;
        attempt = 0;
        if (lastId !== null) {
          socket.send(JSON.stringify({ type: "sync", since: lastId }));
        } else {
          lastId = message.data.last_id;
        }
        if (reconnected) fragments().forEach(refresh);
        document.dispatchEvent(new CustomEvent("live:open"));
        return;
      }
      if (message.event === "sync") {
        if (typeof message.data.last_id === "number") lastId = Math.max(lastId || 0, message.data.last_id);
        if (!message.data.complete) fragments().forEach(refresh);
        return;
      }
      if (message.event === "pong" || message.event === "error") return;
      dispatch(message);
    };
    socket.onclose = function (event) {
      setStatus("offline");
      if (event.code === 4401) { window.location.reload(); return; } // signed out: log in again
      attempt += 1;
      var delay = Math.min(15000, 500 * Math.pow(2, attempt - 1));
      setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
    };
  }

  // A page restored from the back/forward cache has a dead socket and stale fragments.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) fragments().forEach(refresh);
  });
  // Keeps proxies from closing an idle socket.
  setInterval(function () {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send('{"type":"ping"}');
  }, 25000);

  window.ccLive = { refresh: refresh, lastId: function () { return lastId; } };
  connect();
})();
