/* The live stream: one WebSocket to /ws/ per page (protocol: docs/events.md).
 *
 * Markup contract (any template may opt in):
 * - An element with an id, data-live-url and data-live-events is a live fragment: an event whose
 *   name is listed (space separated) makes htmx GET the URL and swap the element (outerHTML).
 *   Several events in a burst cost one request per fragment (80 ms window).
 * - data-live-tenant="<id>" limits a fragment to events of that tenant.
 * - #live-status shows the connection: data-state connecting | live | offline, with the labels
 *   from data-label-live / data-label-offline.
 * - #live-error (optional, hidden) shows the reason of a refused htmx request (4xx/5xx text).
 * - Every event is also dispatched on document as CustomEvent("live:event", {detail: message});
 *   "live:open" fires after each (re)connection's hello.
 *
 * Staying live:
 * - Reconnects by itself after a drop or a server restart, waiting 0.5 s, 1 s, 2 s ... up to
 *   10 s (with jitter), and at once when the browser comes back online or the tab is shown.
 * - A socket that stays silent for 45 s (no pong to the 20 s pings: a half-open TCP connection
 *   after a network change) or that does not open within 10 s is abandoned and replaced.
 * - After a reconnect it sends {"type": "sync", "since": <last id seen>} so the server replays
 *   what was missed (replayed events are dispatched like live ones, each id once), and
 *   re-fetches every live fragment: right even when the replay log no longer reaches back
 *   ("complete": false), when Redis lost its data, or when the server was redeployed.
 * - A fragment refresh that fails (server down) is retried on the next connection; a fragment
 *   holding the keyboard focus (a form being filled in) is refreshed when the focus leaves it.
 */
(function () {
  "use strict";
  var PING_EVERY_MS = 20000;
  var SILENCE_LIMIT_MS = 45000;
  var OPEN_TIMEOUT_MS = 10000;
  var MAX_DELAY_MS = 10000;
  var COALESCE_MS = 80;
  var FETCH_TIMEOUT_MS = 15000;
  var SEEN_KEEP = 1000;

  var lastId = null;
  var attempt = 0;
  var everOpened = false;
  var socket = null;
  var retryTimer = null;
  var openTimer = null;
  var lastFrameAt = 0;
  var pending = new Map(); // fragment id -> timer
  var inflight = new Set(); // fragment ids with a request under way
  var again = new Set(); // fragment ids to fetch once more when their request is done
  var stale = new Set(); // fragment ids whose refresh failed or was deferred
  var seen = new Set(); // event ids already dispatched (replay and live may overlap)
  var seenOrder = [];
  var statusEl = document.getElementById("live-status");

  function setStatus(state) {
    if (!statusEl) return;
    statusEl.dataset.state = state;
    var label = state === "live" ? statusEl.dataset.labelLive : statusEl.dataset.labelOffline;
    if (label) statusEl.textContent = label;
  }

  function fragments() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-url][data-live-events]"));
  }

  function holdsFocus(el) {
    var active = document.activeElement;
    return active && active !== document.body && el.contains(active) &&
      /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  // A form the user has started filling in (a disposition picked, a note typed) is a write in
  // progress: replacing the fragment would silently throw the input away. Such a fragment is
  // refreshed later, like a focused one; posting the form swaps in the fresh fragment anyway.
  function holdsInput(el) {
    var fields = el.querySelectorAll("form[hx-post] input, form[hx-post] textarea, form[hx-post] select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.type === "hidden" || field.type === "submit" || field.type === "button") continue;
      if (field.tagName === "SELECT" && !field.multiple) {
        // Without a `selected` option in the markup, the first one is the default.
        var initial = 0;
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].defaultSelected) { initial = j; break; }
        }
        if (field.options.length && field.selectedIndex !== initial) return true;
      } else if (field.tagName === "SELECT") {
        for (var k = 0; k < field.options.length; k++) {
          if (field.options[k].selected !== field.options[k].defaultSelected) return true;
        }
      } else if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) return true;
      } else if (field.type !== "file" && field.value !== field.defaultValue) {
        return true;
      } else if (field.type === "file" && field.files && field.files.length) {
        return true;
      }
    }
    return false;
  }

  function refresh(el) {
    if (!el || !el.id || pending.has(el.id)) return;
    var id = el.id;
    pending.set(id, setTimeout(function () {
      pending.delete(id);
      fetchFragment(id);
    }, COALESCE_MS));
  }

  // One request per fragment at a time. An event that arrives while its request is in flight
  // (which may have read the data before the change) fetches once more when it is done.
  // The fragment is its own htmx source: htmx queues requests per source element and keeps only
  // the last one, so with the default source (body) refreshes of different fragments would
  // replace one another and some fragments would silently stay stale.
  function fetchFragment(id) {
    var current = document.getElementById(id);
    if (!current || !window.htmx) return;
    // refreshed on focusout, or replaced by the form's own answer
    if (holdsFocus(current) || holdsInput(current)) { stale.add(id); return; }
    if (inflight.has(id)) { again.add(id); return; }
    stale.delete(id);
    inflight.add(id);
    var settled = false;
    function done() {
      if (settled) return;
      settled = true;
      inflight.delete(id);
      if (again.delete(id)) refresh(document.getElementById(id));
    }
    var guard = setTimeout(done, FETCH_TIMEOUT_MS);
    var request = window.htmx.ajax("GET", current.dataset.liveUrl,
      { source: current, target: current, swap: "outerHTML" });
    if (request && request.then) {
      request.then(function () { clearTimeout(guard); done(); },
        function () { clearTimeout(guard); stale.add(id); done(); });
    }
  }

  function refreshAll() { fragments().forEach(refresh); }

  function refreshStale() {
    stale.forEach(function (id) { refresh(document.getElementById(id)); });
  }

  function remember(id) {
    if (seen.has(id)) return false;
    seen.add(id);
    seenOrder.push(id);
    if (seenOrder.length > SEEN_KEEP) seen.delete(seenOrder.shift());
    return true;
  }

  function dispatch(message) {
    if (typeof message.id === "number") {
      if (!remember(message.id)) return;
      if (lastId === null || message.id > lastId) lastId = message.id;
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

  function onHello(message) {
    var reconnected = everOpened;
    everOpened = true;
    attempt = 0;
    setStatus("live");
    if (lastId !== null) {
      socket.send(JSON.stringify({ type: "sync", since: lastId }));
    } else {
      lastId = message.data.last_id;
    }
    if (reconnected) refreshAll(); else refreshStale();
    document.dispatchEvent(new CustomEvent("live:open", { detail: { reconnected: reconnected } }));
  }

  function scheduleReconnect(delay) {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = setTimeout(function () { retryTimer = null; connect(); }, delay);
  }

  function abandon(reason) {
    // Forget this socket without waiting for a close that may never come (dead network).
    var dead = socket;
    socket = null;
    if (openTimer) { clearTimeout(openTimer); openTimer = null; }
    if (dead) {
      dead.onopen = dead.onmessage = dead.onclose = dead.onerror = null;
      try { dead.close(4000, reason); } catch (e) { /* already closed */ }
    }
    setStatus("offline");
    attempt += 1;
    var delay = Math.min(MAX_DELAY_MS, 500 * Math.pow(2, attempt - 1));
    scheduleReconnect(delay * (0.75 + Math.random() * 0.5));
  }

  function connect() {
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + window.location.host + "/ws/");
    socket = ws;
    setStatus(everOpened ? "offline" : "connecting");
    openTimer = setTimeout(function () { if (socket === ws) abandon("open timeout"); }, OPEN_TIMEOUT_MS);
    ws.onopen = function () {
      if (openTimer) { clearTimeout(openTimer); openTimer = null; }
      lastFrameAt = Date.now();
    };
    ws.onmessage = function (frame) {
      lastFrameAt = Date.now();
      var message;
      try { message = JSON.parse(frame.data); } catch (e) { return; }
      if (message.event === "hello") { onHello(message); return; }
      if (message.event === "sync") {
        if (typeof message.data.last_id === "number") lastId = Math.max(lastId || 0, message.data.last_id);
        if (!message.data.complete) refreshAll();
        return;
      }
      if (message.event === "pong" || message.event === "error") return;
      dispatch(message);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      if (event.code === 4401) { window.location.reload(); return; } // signed out: log in again
      abandon("closed");
    };
  }

  // Heartbeat: keeps proxies from closing an idle socket, and notices a dead one.
  setInterval(function () {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastFrameAt > SILENCE_LIMIT_MS) { abandon("silent"); return; }
    socket.send('{"type":"ping"}');
  }, PING_EVERY_MS);

  function reconnectNow() {
    if (socket && socket.readyState === WebSocket.OPEN) return;
    attempt = 0;
    if (socket && socket.readyState === WebSocket.CONNECTING) return;
    scheduleReconnect(0);
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });
  // A page restored from the back/forward cache has a dead socket and stale fragments.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { refreshAll(); reconnectNow(); }
  });
  // A deferred fragment is refreshed once the user leaves it.
  document.addEventListener("focusout", function () { setTimeout(refreshStale, 0); });

  // A failed refresh (server restarting) is retried on the next hello.
  function failed(event) {
    var target = event.detail && event.detail.target;
    if (target && target.id && target.dataset && target.dataset.liveUrl) stale.add(target.id);
  }
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:responseError", function (event) {
    failed(event);
    var box = document.getElementById("live-error");
    var xhr = event.detail && event.detail.xhr;
    if (!box || !xhr || event.detail.requestConfig && event.detail.requestConfig.verb === "get") return;
    box.textContent = xhr.responseText || xhr.statusText;
    box.hidden = false;
    clearTimeout(box._hide);
    box._hide = setTimeout(function () { box.hidden = true; }, 8000);
  });

  window.ccLive = {
    refresh: refresh,
    refreshAll: refreshAll,
    lastId: function () { return lastId; },
    state: function () { return statusEl ? statusEl.dataset.state : (socket && socket.readyState); },
    // Tests and the console: drop the socket as a network failure would.
    drop: function () { if (socket) abandon("dropped"); },
  };
  connect();
})();
