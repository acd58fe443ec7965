/* Keyboard shortcuts of the agent workspace (and any page that loads this file).
 *
 * Attribute contract (docs/shortcuts.md has the table users see):
 *
 * 1. data-shortcut="<keys>" on a button, link or form field: pressing the keys clicks the
 *    button/link, or focuses (and selects) the field. <keys> is one key with optional
 *    modifiers joined by "+", lower case: "a", "shift+r", "ctrl+enter", "?", "/", "escape".
 *    Several alternatives are separated by spaces: data-shortcut="j arrowdown".
 *    data-shortcut-label="Accept the offer" names it in the help overlay (else aria-label,
 *    title or the element's text). The first VISIBLE, enabled element with the keys wins, so
 *    a fragment that is not shown (or a disabled button) never fires.
 * 2. Without data-shortcut, the built-in actions below find their element by the attributes
 *    the workspace templates already carry (data-shortcut-action, data-action, data-softphone,
 *    data-testid). A template opts in to a built-in action by giving an element
 *    data-shortcut-action="<action name>" (the names in ACTIONS, e.g. "accept-offer").
 * 3. data-shortcut-item on the rows of a list (or the default: .items > .item): "j"/"k" move
 *    between them, "o" or "enter" opens the selected one (its [data-shortcut-open], else its
 *    first link or button).
 * 4. data-shortcuts="off" on an element disables every shortcut while the focus is inside it.
 *
 * Keys typed into a text field are never taken, except "escape" (leaves the field) and
 * ctrl/cmd+enter (sends the form the field is in: the reply composer).
 * "?" shows the help overlay: every shortcut that has an element on the page right now.
 * Its texts go through window.gettext when Django's JavaScript catalogue is loaded
 * (django.views.i18n.JavaScriptCatalog); otherwise they are shown in English.
 */
(function () {
  "use strict";
  var gettext = typeof window.gettext === "function" ? window.gettext : function (text) { return text; };

  // Built-in actions: keys, the label shown in the help, and where to find the element.
  var ACTIONS = [
    { name: "accept-offer", keys: "a", label: gettext("Accept the offer"),
      find: '[data-shortcut-action="accept-offer"], [data-testid="offers"] [hx-post*="/accept/"], [data-testid="offer-accept"]' },
    { name: "decline-offer", keys: "d", label: gettext("Decline the offer"),
      find: '[data-shortcut-action="decline-offer"], [data-testid="offers"] [hx-post*="/decline/"], [data-testid="offer-decline"]' },
    { name: "answer", keys: "shift+a", label: gettext("Answer the ringing call"),
      find: '[data-shortcut-action="answer"], [data-softphone="accept"], #softphone [data-action="accept"], [data-testid="softphone-answer"]' },
    { name: "hang-up", keys: "shift+h", label: gettext("Hang up"),
      find: '[data-shortcut-action="hang-up"], [data-softphone="hangup"], #softphone [data-action="hangup"], [data-testid="softphone-hangup"]' },
    { name: "available", keys: "shift+v", label: gettext("Go available"),
      find: '[data-shortcut-action="available"], button[name="presence"][value="available"]' },
    { name: "break", keys: "shift+b", label: gettext("Take a break"),
      find: '[data-shortcut-action="break"], button[name="presence"][value="break"]' },
    { name: "search", keys: "/", label: gettext("Search"),
      find: '[data-shortcut-action="search"], input[type="search"], [data-testid="search"]' },
    { name: "reply", keys: "r", label: gettext("Reply (focus the composer)"),
      find: '[data-shortcut-action="reply"], [data-testid="composer-text"], [data-testid="reply-body"]' },
    { name: "resolve", keys: "e", label: gettext("Resolve the conversation"),
      find: '[data-shortcut-action="resolve"], [data-action="resolve"], [data-testid="resolve"]' },
    { name: "next-item", keys: "n", label: gettext("Open the next work item"),
      find: '[data-shortcut-action="next-item"], [data-testid="next-item"]' },
  ];
  var ITEM_SELECTOR = "[data-shortcut-item], .items > .item";
  var overlay = null;
  var selectedItem = null;

  function normalise(event) {
    var key = event.key;
    if (!key) return "";
    key = key.length === 1 ? key.toLowerCase() : key.toLowerCase();
    var parts = [];
    if (event.ctrlKey || event.metaKey) parts.push("ctrl");
    if (event.altKey) parts.push("alt");
    // "?" and "/" already say whether shift was held; letters and named keys do not.
    if (event.shiftKey && (key.length > 1 || /[a-z0-9]/.test(key))) parts.push("shift");
    parts.push(key === " " ? "space" : key);
    return parts.join("+");
  }

  function visible(el) {
    if (!el || el.disabled || el.closest("[hidden], [inert]")) return false;
    var rect = el.getBoundingClientRect();
    return rect.width > 0 || rect.height > 0;
  }

  function firstVisible(selector) {
    var all = document.querySelectorAll(selector);
    for (var i = 0; i < all.length; i++) if (visible(all[i])) return all[i];
    return null;
  }

  function isField(el) {
    return el && (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable);
  }

  function activate(el) {
    if (isField(el)) {
      el.focus();
      if (el.select && el.tagName !== "SELECT") el.select();
    } else {
      el.click();
    }
  }

  function declared(keys) {
    var all = document.querySelectorAll("[data-shortcut]");
    for (var i = 0; i < all.length; i++) {
      if (all[i].dataset.shortcut.split(/\s+/).indexOf(keys) !== -1 && visible(all[i])) return all[i];
    }
    return null;
  }

  function builtIn(keys) {
    for (var i = 0; i < ACTIONS.length; i++) {
      if (ACTIONS[i].keys === keys) {
        var el = firstVisible(ACTIONS[i].find);
        if (el) return el;
      }
    }
    return null;
  }

  // --- moving through the work list ---

  function items() {
    return Array.prototype.filter.call(document.querySelectorAll(ITEM_SELECTOR), visible);
  }

  function select(step) {
    var list = items();
    if (!list.length) return false;
    var index = list.indexOf(selectedItem);
    index = index === -1 ? (step > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, index + step));
    if (selectedItem) selectedItem.classList.remove("shortcut-selected");
    selectedItem = list[index];
    selectedItem.classList.add("shortcut-selected");
    selectedItem.setAttribute("tabindex", "-1");
    selectedItem.focus({ preventScroll: true });
    selectedItem.scrollIntoView({ block: "nearest" });
    return true;
  }

  function openSelected() {
    if (!selectedItem || !document.contains(selectedItem)) return false;
    var target = selectedItem.querySelector("[data-shortcut-open]") || selectedItem.querySelector("a[href], button");
    if (!target) return false;
    target.click();
    return true;
  }

  // --- help overlay ---

  function labelOf(el) {
    return el.dataset.shortcutLabel || el.getAttribute("aria-label") || el.title || el.textContent.trim().replace(/\s+/g, " ");
  }

  function helpRows() {
    var rows = [];
    var seen = {};
    Array.prototype.forEach.call(document.querySelectorAll("[data-shortcut]"), function (el) {
      if (!visible(el) || seen[el.dataset.shortcut]) return;
      seen[el.dataset.shortcut] = true;
      rows.push([el.dataset.shortcut, labelOf(el)]);
    });
    ACTIONS.forEach(function (action) {
      if (seen[action.keys] || !firstVisible(action.find)) return;
      seen[action.keys] = true;
      rows.push([action.keys, action.label]);
    });
    rows.push(["j k", gettext("Select the next / previous item")], ["o enter", gettext("Open the selected item")],
      ["ctrl+enter", gettext("Send the form you are typing in")], ["escape", gettext("Leave a field, close this help")],
      ["?", gettext("Show this help")]);
    return rows;
  }

  function showHelp() {
    hideHelp();
    overlay = document.createElement("div");
    overlay.className = "shortcut-help";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", gettext("Keyboard shortcuts"));
    overlay.dataset.testid = "shortcut-help";
    overlay.style.cssText = "position:fixed;inset:0;background:rgba(17,24,39,.45);display:flex;align-items:center;justify-content:center;z-index:1000";
    var box = document.createElement("div");
    box.style.cssText = "background:#fff;border-radius:10px;padding:1.2rem 1.5rem;min-width:340px;max-height:80vh;overflow:auto;box-shadow:0 10px 30px rgba(0,0,0,.25);font-size:.9rem";
    var title = document.createElement("h2");
    title.textContent = gettext("Keyboard shortcuts");
    title.style.cssText = "margin:0 0 .8rem;font-size:1.05rem";
    box.appendChild(title);
    var table = document.createElement("table");
    helpRows().forEach(function (row) {
      var tr = document.createElement("tr");
      var keys = document.createElement("td");
      keys.style.cssText = "padding:.2rem 1rem .2rem 0;white-space:nowrap";
      row[0].split(/\s+/).forEach(function (k, i) {
        if (i) keys.appendChild(document.createTextNode(" "));
        var kbd = document.createElement("kbd");
        kbd.textContent = k;
        kbd.style.cssText = "border:1px solid #c9ced8;border-bottom-width:2px;border-radius:4px;padding:0 .35rem;font-family:inherit;background:#f6f7f9";
        keys.appendChild(kbd);
      });
      var what = document.createElement("td");
      what.textContent = row[1];
      tr.appendChild(keys);
      tr.appendChild(what);
      table.appendChild(tr);
    });
    box.appendChild(table);
    overlay.appendChild(box);
    overlay.addEventListener("click", function (event) { if (event.target === overlay) hideHelp(); });
    document.body.appendChild(overlay);
  }

  function hideHelp() {
    if (overlay) { overlay.remove(); overlay = null; return true; }
    return false;
  }

  // --- the key handler ---

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    var keys = normalise(event);
    var target = event.target;
    if (target && target.closest && target.closest('[data-shortcuts="off"]')) return;
    if (keys === "escape") {
      if (hideHelp()) { event.preventDefault(); return; }
      if (isField(target)) { target.blur(); event.preventDefault(); }
      return;
    }
    if (isField(target)) {
      if (keys === "ctrl+enter" && target.form) {
        event.preventDefault();
        if (target.form.requestSubmit) target.form.requestSubmit(); else target.form.submit();
      }
      return; // typing is never a shortcut
    }
    if (overlay && keys !== "?") return;
    // Enter or space on a focused button or link keeps its own meaning.
    if ((keys === "enter" || keys === "space") && target.closest && target.closest("a[href], button, summary")) return;
    var handled = false;
    if (keys === "?") { if (!hideHelp()) showHelp(); handled = true; }
    else {
      var el = declared(keys) || builtIn(keys);
      if (el) { activate(el); handled = true; }
      else if (keys === "j" || (keys === "arrowdown" && selectedItem)) handled = select(1);
      else if (keys === "k" || (keys === "arrowup" && selectedItem)) handled = select(-1);
      else if (keys === "o" || (keys === "enter" && selectedItem)) handled = openSelected();
      else if (keys === "n") handled = select(1) && openSelected();
    }
    if (handled) event.preventDefault();
  });

  window.ccShortcuts = { actions: ACTIONS, showHelp: showHelp, hideHelp: hideHelp };
})();
