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
