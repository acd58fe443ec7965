/* Small behaviours of the agent workspace and wallboard: offer countdowns and time-in-state
 * clocks. The softphone lives in softphone.js, keyboard shortcuts in shortcuts.js. */
(function () {
  "use strict";

  function mmss(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-expires-at]").forEach(function (el) {
      var left = (Date.parse(el.dataset.expiresAt) - now) / 1000;
      el.textContent = mmss(left);
      el.classList.toggle("urgent", left < 10);
    });
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = mmss((now - Date.parse(el.dataset.since)) / 1000);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
  tick();
})();

/* The conversation composer: reply or note, SMS segment counter, canned responses (picked
 * from the list or typed as /shortcut), and a fresh form after a message was sent. Errors
 * (400) are swapped in like successes, so the reason shows where the agent is looking. */
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 400 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Mirrors contactcenter/workspace/inbox_views.py sms_segments().
  var GSM7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXT = "^{}\\[~]|€\f";

  function smsSegments(text) {
    var chars = Array.from(text);
    var gsm = chars.every(function (c) { return GSM7.indexOf(c) !== -1 || GSM7_EXT.indexOf(c) !== -1; });
    var units, single, part;
    if (gsm) {
      units = chars.reduce(function (n, c) { return n + (GSM7_EXT.indexOf(c) !== -1 ? 2 : 1); }, 0);
      single = 160; part = 153;
    } else {
      units = chars.reduce(function (n, c) { return n + (c.codePointAt(0) > 0xffff ? 2 : 1); }, 0);
      single = 70; part = 67;
    }
    var segments = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / part));
    return { encoding: gsm ? "GSM-7" : "UCS-2", units: units, segments: segments, single: single, part: part };
  }
  window.ccSmsSegments = smsSegments;

  function cannedList(form) {
    var data = form.querySelector("#canned-data");
    if (!data) return [];
    try { return JSON.parse(data.textContent); } catch (e) { return []; }
  }

  function insertCanned(textarea, body, replaceFrom) {
    var start = replaceFrom === undefined ? textarea.selectionStart : replaceFrom;
    var end = textarea.selectionEnd;
    textarea.value = textarea.value.slice(0, start) + body + textarea.value.slice(end);
    var caret = start + body.length;
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.focus();
  }

  function updateCounter(form) {
    var counter = form.querySelector("[data-sms-counter]");
    var textarea = form.querySelector("textarea[name=text]");
    if (!counter || !textarea) return;
    var s = smsSegments(textarea.value);
    var limit = s.segments > 1 ? s.segments * s.part : s.single;
    counter.textContent = s.units + " / " + limit + " · " + s.encoding + " · " + s.segments + " " +
      (s.segments === 1 ? "segment" : "segments");
    counter.classList.toggle("warn", s.segments > 1);
  }

  function updateMode(form) {
    var mode = form.querySelector("input[name=mode]:checked");
    var note = mode && mode.value === "note";
    form.classList.toggle("is-note", !!note);
    form.querySelectorAll(".reply-only").forEach(function (el) { el.hidden = !!note; });
  }

  function setUp(form) {
    if (!form || form.dataset.ready) return;
    form.dataset.ready = "1";
    var textarea = form.querySelector("textarea[name=text]");
    var responses = cannedList(form);
    form.addEventListener("change", function (event) {
      if (event.target.name === "mode") updateMode(form);
      if (event.target.matches("[data-canned-pick]") && event.target.value) {
        var found = responses.find(function (r) { return r.shortcut === event.target.value; });
        if (found) insertCanned(textarea, found.body);
        event.target.value = "";
      }
    });
    textarea.addEventListener("input", function () {
      updateCounter(form);
      // "/shortcut" followed by a space or at the end: replace it with the canned response.
      var before = textarea.value.slice(0, textarea.selectionStart);
      var match = /(^|\s)\/([a-z0-9_-]+)(\s?)$/i.exec(before);
      if (!match || !match[3]) return;
      var found = responses.find(function (r) { return r.shortcut === match[2]; });
      if (!found) return;
      var from = before.length - match[2].length - 1 - match[3].length;
      textarea.setSelectionRange(from, textarea.selectionStart);
      insertCanned(textarea, found.body, from);
    });
    textarea.addEventListener("keydown", function (event) {
      // Ctrl/Cmd+Enter sends.
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (window.htmx) window.htmx.trigger(form, "submit");
      }
    });
    form.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt === form && event.detail.xhr.status === 200) {
        form.reset();
        updateMode(form);
        updateCounter(form);
      }
    });
    updateMode(form);
    updateCounter(form);
  }

  function init() { setUp(document.getElementById("composer")); }
  document.addEventListener("htmx:afterSwap", init);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
