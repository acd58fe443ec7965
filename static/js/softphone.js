/* The softphone panel: the simulator softphone (settings.TWILIO_SIMULATED;
 * docs/simulated-twilio.md). */
(function () {
  "use strict";
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
