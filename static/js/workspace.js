/* Small behaviours of the agent workspace and wallboard: offer countdowns, time-in-state
 * clocks, and the simulator softphone (settings.TWILIO_SIMULATED; docs/simulated-twilio.md). */
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

  // --- simulator softphone ------------------------------------------------------------
  var phone = document.getElementById("softphone");
  if (!phone || phone.dataset.simulated !== "1") return;
  var list = document.getElementById("softphone-legs");
  var template = document.getElementById("leg-template");
  var emptyText = list.textContent.trim();
  var csrf = JSON.parse(document.querySelector(".ws").getAttribute("hx-headers"))["X-CSRFToken"];

  function render(legs) {
    list.innerHTML = "";
    if (!legs.length) {
      var li = document.createElement("li");
      li.className = "empty";
      li.textContent = emptyText;
      list.appendChild(li);
      return;
    }
    legs.forEach(function (leg) {
      var node = template.content.firstElementChild.cloneNode(true);
      node.dataset.leg = leg.leg_sid;
      node.classList.add(leg.state === "ringing" ? "ringing" : "connected");
      node.querySelector(".leg-from").textContent = leg.from;
      node.querySelector(".leg-state").textContent = leg.state;
      node.querySelectorAll("button").forEach(function (button) {
        var ringing = leg.state === "ringing";
        button.hidden = (button.dataset.action === "hangup") === ringing;
        button.addEventListener("click", function () { press(leg.leg_sid, button.dataset.action); });
      });
      list.appendChild(node);
    });
  }

  function poll() {
    fetch(phone.dataset.callsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { legs: [] }; })
      .then(function (body) { render(body.legs || []); })
      .catch(function () {});
  }

  function press(legSid, action) {
    var url = phone.dataset.actionUrl.replace("LEG", encodeURIComponent(legSid)).replace("ACTION", action);
    fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf } }).then(poll);
  }

  // The simulated call keeps its legs in Redis, not in events: poll while the page is open.
  poll();
  setInterval(poll, 1500);
})();
