/*
 * Local/Remote link toggle for the Homepage dashboard.
 *
 * nginx serves this file as /api/config/custom.js, after a generated prelude
 * that sets window.HOMELAB_LINKS: a map from each service's public origin
 * (https://jellyfin-home.example.com) to its LAN URL (http://192.0.2.10:8096).
 *
 * Remote mode (the default) leaves Homepage's links alone: they go through
 * Cloudflare. Local mode points every service link at the LAN URL instead,
 * keeping the path. The choice is kept in localStorage.
 *
 * Homepage's search launcher (type anywhere on the page, then Enter) does not
 * follow the links on the page: it calls window.open with the href from its
 * own copy of the services config (src/components/quicklaunch.jsx). So in
 * Local mode window.open maps a service's public URL to its LAN URL too.
 *
 * The button is a toggle button with a fixed name, "Local links"; its state
 * is aria-pressed alone, so a screen reader says "Local links, toggle button,
 * pressed" rather than a name that changes under the user.
 *
 * Homepage is a React app: the clock mounts late, tabs remount groups and
 * cards re-render, so a MutationObserver re-applies the mode whenever the
 * DOM changes. Every write is skipped when the value is already right, so
 * the observer's own changes settle after one pass instead of looping.
 *
 * Plain ES5-level JavaScript without dependencies, so it runs as-is.
 */
(function () {
  "use strict";

  if (window.__homelabLinkToggle) return;
  window.__homelabLinkToggle = true;

  var STORAGE_KEY = "homelab.linkMode";
  var BUTTON_ID = "homelab-link-toggle";
  var BUTTON_LABEL = "Local links";
  var STYLE_ID = "homelab-link-toggle-style";
  var CLOCK = "#information-widgets-right .information-widget-datetime";
  var LINKS = "a.service-icon, a.service-title-text, li.service a[href]";
  // The href Homepage rendered, remembered so Remote mode can restore it.
  var REMOTE_ATTR = "data-homelab-remote";
  var MAP = window.HOMELAB_LINKS || {};

  function readMode() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) === "local" ? "local" : "remote";
    } catch (e) {
      return "remote"; // storage disabled: stay on the safe default
    }
  }

  function saveMode(value) {
    try {
      window.localStorage.setItem(STORAGE_KEY, value);
    } catch (e) {
      /* the choice lasts for this page only */
    }
  }

  var mode = readMode();

  /** The LAN URL for a public URL, or null when the link is not a homelab service. */
  function toLocal(href) {
    var url;
    try {
      url = new URL(href, window.location.href);
    } catch (e) {
      return null;
    }
    var base = MAP[url.origin];
    if (!base) return null;
    var rest = url.pathname + url.search + url.hash;
    return rest === "/" ? base : base + rest;
  }

  // Wrapped once, at load: Homepage looks window.open up at each call, so the
  // launcher gets this one. Anything that is not a homelab service passes through.
  var nativeOpen = window.open;
  window.open = function (url) {
    var args = Array.prototype.slice.call(arguments);
    if (mode === "local" && url !== undefined && url !== null) {
      var local = toLocal(String(url));
      if (local) args[0] = local;
    }
    return nativeOpen.apply(window, args);
  };

  function applyLinks() {
    var anchors = document.querySelectorAll(LINKS);
    for (var i = 0; i < anchors.length; i++) {
      var a = anchors[i];
      var current = a.getAttribute("href");
      if (current === null) continue;
      var remote = a.getAttribute(REMOTE_ATTR);
      // A link seen for the first time, or one React has since pointed elsewhere:
      // what it holds now is Homepage's own (public) href.
      if (remote === null || (current !== remote && current !== toLocal(remote))) {
        remote = current;
        a.setAttribute(REMOTE_ATTR, remote);
      }
      var wanted = mode === "local" ? toLocal(remote) || remote : remote;
      if (current !== wanted) a.setAttribute("href", wanted);
    }
  }

  function ensureStyle() {
    if (document.getElementById(STYLE_ID) || !document.head) return;
    var style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent =
      "#" + BUTTON_ID + "{display:inline-flex;align-items:center;gap:.4rem;align-self:center;" +
      "margin:0 .5rem;padding:.25rem .7rem;border-radius:.375rem;border:1px solid rgba(255,255,255,.25);" +
      "background:rgba(255,255,255,.1);color:inherit;font:inherit;font-size:.8rem;line-height:1.25rem;" +
      "cursor:pointer;white-space:nowrap}" +
      "#" + BUTTON_ID + ":hover{background:rgba(255,255,255,.2)}" +
      "#" + BUTTON_ID + ":focus-visible{outline:2px solid #38bdf8;outline-offset:2px}" +
      // A switch drawn in CSS: the knob sits left (off, Remote) or right on green (on, Local).
      "#" + BUTTON_ID + "::before{content:'';flex:none;width:1.6rem;height:.9rem;border-radius:999px;" +
      "background:radial-gradient(circle at .45rem 50%,#f8fafc .3rem,transparent .33rem),rgba(148,163,184,.55)}" +
      "#" + BUTTON_ID + "[aria-pressed='true']::before{" +
      "background:radial-gradient(circle at 1.15rem 50%,#f8fafc .3rem,transparent .33rem),#16a34a}";
    document.head.appendChild(style);
  }

  function createButton() {
    var button = document.createElement("button");
    button.type = "button";
    button.id = BUTTON_ID;
    button.className = "homelab-link-toggle";
    button.textContent = BUTTON_LABEL;
    button.title = "On: service links open on the LAN. Off: through Cloudflare.";
    button.addEventListener("click", function () {
      mode = mode === "local" ? "remote" : "local";
      saveMode(mode);
      apply();
    });
    return button;
  }

  /** Reflect the mode on the button, touching only what differs (no needless mutations). */
  function renderButton(button) {
    var pressed = mode === "local" ? "true" : "false";
    if (button.getAttribute("aria-pressed") !== pressed) button.setAttribute("aria-pressed", pressed);
    if (button.getAttribute("data-mode") !== mode) button.setAttribute("data-mode", mode);
  }

  function ensureButton() {
    var clock = document.querySelector(CLOCK);
    var button = document.getElementById(BUTTON_ID);
    if (!clock) return; // not mounted yet: the observer calls again when it is
    if (!button) button = createButton();
    if (clock.nextElementSibling !== button) clock.insertAdjacentElement("afterend", button);
    renderButton(button);
  }

  function apply() {
    ensureStyle();
    ensureButton();
    applyLinks();
  }

  // Coalesce bursts of mutations into one pass after the current task's changes.
  var scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    var run = function () {
      scheduled = false;
      apply();
    };
    if (typeof window.queueMicrotask === "function") window.queueMicrotask(run);
    else window.setTimeout(run, 0);
  }

  // Another tab switched modes: follow it.
  window.addEventListener("storage", function (event) {
    if (event.key !== STORAGE_KEY) return;
    mode = readMode();
    schedule();
  });

  function start() {
    apply();
    new MutationObserver(schedule).observe(document.documentElement, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["href"],
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
