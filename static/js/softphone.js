/* The softphone panel (templates/agent/_softphone.html).
 *
 * Two modes, one panel:
 * - simulator (no Twilio credentials, docs/simulated-twilio.md): the simulated call's legs for
 *   this agent are polled from /telephony/simulator/calls/ and answered, rejected or hung up
 *   there; no audio.
 * - Twilio: the Voice JS SDK (static/vendor/twilio-voice.min.js, built by `make vendor-voice`)
 *   registers a Device with the token from /telephony/token/; the incoming call is accepted,
 *   rejected, muted, hung up and sent DTMF in the browser.
 *
 * The call's state (#softphone-call) is a server fragment (contactcenter/workspace/
 * voice_views.py), refreshed by live events and whenever the legs change; hold, resume,
 * transfer and wrap-up are htmx posts in it. On ring the caller's record pops into the
 * contact panel.
 */
(function () {
  "use strict";
  var phone = document.getElementById("softphone");
  if (!phone) return;
  var simulated = phone.dataset.simulated === "1";
  var csrf = JSON.parse(document.querySelector(".ws").getAttribute("hx-headers"))["X-CSRFToken"];
  var legs = [];
  var legsSignature = "";
  var device = null;
  var incoming = null;
  var active = null;
  var muted = false;
  var popped = null;
  var poppedUrl = null;
  var lastState = null;

  function panel() { return document.getElementById("softphone-call"); }

  function refreshCall() {
    var el = panel();
    if (!el || !window.htmx) return;
    if (el.dataset.liveUrl && window.ccLive) { window.ccLive.refresh(el); return; }
    var url = el.dataset.liveUrl || el.getAttribute("hx-get");
    if (url) window.htmx.ajax("GET", url, { target: "#softphone-call", swap: "outerHTML" });
  }

  // --- screen pop and the fragment's state ------------------------------------------------
  function afterFragment() {
    var el = panel();
    if (!el || !el.dataset.state) return;
    var call = el.dataset.call || null;
    var state = el.dataset.state;
    if (call && el.dataset.screenPop && popped !== call && (state === "ringing" || state === "connected")) {
      popped = call;
      poppedUrl = el.dataset.screenPop;
      window.htmx.ajax("GET", poppedUrl, { target: "#contact-panel", swap: "innerHTML" });
    } else if (poppedUrl && lastState && state !== lastState && (state === "wrapup" || state === "idle")) {
      // The call ended or was wrapped up: the caller's timeline has new entries.
      window.htmx.ajax("GET", poppedUrl, { target: "#contact-panel", swap: "innerHTML" });
      if (state === "idle") poppedUrl = null;
    }
    lastState = state;
    if (el.dataset.state !== "connected") muted = false;
    var button = el.querySelector("[data-softphone=mute]");
    if (button) {
      button.setAttribute("aria-pressed", muted ? "true" : "false");
      button.classList.toggle("active", muted);
      button.textContent = muted ? button.dataset.labelUnmute : button.dataset.labelMute;
    }
  }
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && (event.detail.target.id === "softphone-call" || event.detail.elt === panel())) afterFragment();
  });
  // A refused button (400 bad input, 409 the call moved on) answers the fresh fragment with
  // the reason: show it instead of dropping it.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 400 || status === 409) && event.detail.target && event.detail.target.id === "softphone-call") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function post(url, body) {
    // Form-encoded (an empty multipart body is refused by Django's parser).
    var form = new URLSearchParams();
    Object.keys(body || {}).forEach(function (key) { form.append(key, body[key]); });
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf }, body: form });
  }

  // --- simulator legs ---------------------------------------------------------------------
  function legFor(callSid, state) {
    for (var i = 0; i < legs.length; i++) {
      if ((!callSid || legs[i].call_sid === callSid) && legs[i].state === state) return legs[i];
    }
    return null;
  }

  function pressLeg(legSid, action) {
    var url = phone.dataset.actionUrl.replace("LEG", encodeURIComponent(legSid)).replace("ACTION", action);
    return post(url).then(pollLegs);
  }

  function renderLegs() {
    var list = document.getElementById("softphone-legs");
    var template = document.getElementById("leg-template");
    if (!list.dataset.emptyText) list.dataset.emptyText = list.textContent.trim();
    list.innerHTML = "";
    if (!legs.length) {
      var li = document.createElement("li");
      li.className = "empty";
      li.textContent = list.dataset.emptyText;
      list.appendChild(li);
      return;
    }
    legs.forEach(function (leg) {
      var node = template.content.firstElementChild.cloneNode(true);
      var ringing = leg.state === "ringing";
      node.dataset.leg = leg.leg_sid;
      node.classList.add(ringing ? "ringing" : "connected");
      node.querySelector(".leg-from").textContent = leg.from;
      node.querySelector(".leg-state").textContent = leg.state;
      node.querySelectorAll("button").forEach(function (button) {
        button.hidden = (button.dataset.action === "hangup") === ringing;
        button.addEventListener("click", function () { pressLeg(leg.leg_sid, button.dataset.action); });
      });
      list.appendChild(node);
    });
  }

  function pollLegs() {
    return fetch(phone.dataset.callsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { legs: [] }; })
      .then(function (body) {
        legs = body.legs || [];
        renderLegs();
        var signature = legs.map(function (leg) { return leg.leg_sid + ":" + leg.state; }).join(",");
        if (signature !== legsSignature) {
          legsSignature = signature;
          refreshCall(); // a leg rang, was answered or ended: the call's state moved too
        }
      })
      .catch(function () {});
  }

  // --- Twilio Voice SDK -------------------------------------------------------------------
  function deviceStatus(text) {
    var el = document.getElementById("softphone-device");
    if (el) el.textContent = text;
  }

  function token() {
    return fetch(phone.dataset.tokenUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("token " + r.status); return r.json(); });
  }

  function loadSdk() {
    return new Promise(function (resolve, reject) {
      if (window.Twilio && window.Twilio.Device) { resolve(); return; }
      var script = document.createElement("script");
      script.src = phone.dataset.sdkUrl;
      script.onload = function () { (window.Twilio && window.Twilio.Device) ? resolve() : reject(); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // The Device's own ringing line: a call rung outside the routing engine (resume after hold,
  // a transfer to this agent) has no ringing state on the server, so it is answered here.
  function showIncoming(call) {
    var el = document.getElementById("softphone-device");
    if (!el) return;
    if (!call) { el.textContent = phone.dataset.labelReady; return; }
    var from = (call.parameters && call.parameters.From) || "";
    el.innerHTML = "";
    var text = document.createElement("span");
    text.textContent = phone.dataset.labelIncoming + " " + from + " ";
    el.appendChild(text);
    [["accept", "btn btn-go", phone.dataset.labelAnswer], ["reject", "btn btn-stop", phone.dataset.labelReject]]
      .forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = spec[1];
        button.dataset.softphone = spec[0];
        button.textContent = spec[2];
        el.appendChild(button);
      });
  }

  function track(call) {
    call.on("disconnect", function () { if (active === call) active = null; muted = false; refreshCall(); });
    call.on("cancel", function () { if (incoming === call) { incoming = null; showIncoming(null); } refreshCall(); });
    call.on("reject", function () { if (incoming === call) { incoming = null; showIncoming(null); } refreshCall(); });
  }

  function startDevice() {
    loadSdk().then(function () {
      return token().then(function (body) {
        device = new window.Twilio.Device(body.token, { closeProtection: true, codecPreferences: ["opus", "pcmu"] });
        device.on("registered", function () { deviceStatus(phone.dataset.labelReady); });
        device.on("unregistered", function () { deviceStatus(phone.dataset.labelOffline); });
        device.on("error", function (error) {
          deviceStatus(error && error.code === 31402 ? phone.dataset.labelMic : (error && error.message) || phone.dataset.labelOffline);
        });
        device.on("incoming", function (call) { incoming = call; track(call); showIncoming(call); refreshCall(); });
        device.on("tokenWillExpire", function () {
          token().then(function (fresh) { device.updateToken(fresh.token); });
        });
        return device.register();
      });
    }).catch(function () { deviceStatus(phone.dataset.labelNoSdk); });
  }

  // --- the fragment's buttons ---------------------------------------------------------------
  function sendDigit(digit) {
    var el = panel();
    var out = el && el.querySelector(".sp-digits");
    if (out) out.textContent = (out.textContent + digit).slice(-32);
    if (active) active.sendDigits(digit);
  }

  // The server may know that the agent is being rung a moment before the simulated call's
  // leg shows up: wait for the leg (a few polls) rather than drop the press.
  function onLeg(callSid, state, then, triesLeft) {
    var leg = legFor(callSid, state) || legFor(null, state);
    if (leg) { then(leg); return; }
    if (triesLeft > 0) {
      setTimeout(function () { pollLegs().then(function () { onLeg(callSid, state, then, triesLeft - 1); }); }, 300);
    }
  }

  function act(what) {
    var el = panel();
    var callSid = el ? el.dataset.callSid : "";
    if (what === "accept" || what === "reject") {
      if (simulated) {
        onLeg(callSid, "ringing", function (leg) { pressLeg(leg.leg_sid, what); }, 15);
      } else if (incoming) {
        var call = incoming;
        incoming = null;
        if (what === "accept") { call.accept(); active = call; } else { call.reject(); }
        showIncoming(null);
        refreshCall();
      }
    } else if (what === "hangup") {
      if (simulated) {
        onLeg(callSid, "in-progress", function (leg) { pressLeg(leg.leg_sid, "hangup"); }, 15);
      } else if (active) {
        active.disconnect();
      }
    } else if (what === "mute") {
      var button = el.querySelector("[data-softphone=mute]");
      muted = !muted;
      if (active) active.mute(muted);
      post(muted ? button.dataset.muteUrl : button.dataset.unmuteUrl, { tenant: phone.closest(".ws").dataset.tenant });
      afterFragment();
    }
  }

  phone.addEventListener("click", function (event) {
    var button = event.target.closest("[data-softphone], [data-digit]");
    if (!button || !phone.contains(button)) return;
    if (button.dataset.digit) sendDigit(button.dataset.digit);
    else act(button.dataset.softphone);
  });
  document.addEventListener("keydown", function (event) {
    // The keypad answers the keyboard while it is open (DTMF for IVRs the agent dials into).
    var keypad = document.querySelector("#softphone-call .sp-keypad[open]");
    if (!keypad || /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName)) return;
    if (/^[0-9*#]$/.test(event.key)) sendDigit(event.key);
  });

  if (simulated) {
    // The simulated call keeps its legs in Redis, not in events: poll while the page is open.
    pollLegs();
    setInterval(pollLegs, 1500);
  } else {
    startDevice();
  }
  // The call's timer: time in the state (ringing, talking, wrap-up); for wrap-up with a limit,
  // the time left before it ends by itself.
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var s = seconds % 60;
    return Math.floor(seconds / 60) + ":" + (s < 10 ? "0" : "") + s;
  }
  function tick() {
    document.querySelectorAll("#softphone-call .sp-timer").forEach(function (el) {
      var since = Date.parse(el.getAttribute("datetime"));
      if (isNaN(since)) return;
      var elapsed = (Date.now() - since) / 1000;
      var limit = parseInt(el.dataset.limit || "0", 10);
      el.textContent = limit ? clock(limit - elapsed) + " " + el.dataset.labelLeft : clock(elapsed);
    });
  }
  setInterval(tick, 1000);
  document.body.addEventListener("htmx:afterSettle", tick);

  // A safety net under the live events: while a call is on, re-read its state now and then.
  setInterval(function () {
    var el = panel();
    if (el && el.dataset.state && el.dataset.state !== "idle") refreshCall();
  }, 5000);
  window.ccSoftphone = { refresh: refreshCall };
})();
