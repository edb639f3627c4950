// Shared by the reference pages: the API key (kept in this tab's sessionStorage only), calls to the public
// API with it, problem+json errors as readable messages, and DOM building without innerHTML.
"use strict";

const KEY_STORAGE = "digipath.apiKey";

const digipath = {
  key() {
    return sessionStorage.getItem(KEY_STORAGE);
  },

  // Calls the service's public API (same host) with the key; throws an Error carrying the problem's text.
  async api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    const key = digipath.key();
    if (key) headers.Authorization = `Bearer ${key}`;
    let body = options.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, { method: options.method || "GET", headers, body });
    if (!response.ok) {
      let detail = `${response.status} ${response.statusText}`;
      try {
        const problem = await response.json();
        detail = problem.detail || problem.title || detail;
      } catch (_) { /* not JSON: keep the status line */ }
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return options.raw ? response : response.json();
  },

  // el("p", {class: "x"}, "text", child) -> element; text is always set as text, never parsed as HTML.
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },

  show(id, visible = true) {
    document.getElementById(id).hidden = !visible;
  },

  // A message in the page's alert region (errors) or status region (progress), read out by screen readers;
  // say("") clears both (what was wrong before no longer is).
  say(text, kind = "status") {
    if (!text) {
      document.getElementById("alert").textContent = "";
      document.getElementById("status").textContent = "";
      return;
    }
    const region = document.getElementById(kind === "error" ? "alert" : "status");
    region.replaceChildren(digipath.el("p", {}, text));
  },

  percent(p) {
    return `${Math.round(100 * p)}%`;
  },

  // The key form: paste a key, forget it. onKey runs when a key is (or already was) set.
  setUpKey(onKey) {
    const form = document.getElementById("key-form");
    const input = document.getElementById("api-key");
    const state = document.getElementById("key-state");
    const forget = document.getElementById("forget-key");
    const render = () => {
      const set = Boolean(digipath.key());
      state.textContent = set
        ? "A key is set for this tab."
        : "No key set yet: paste one to continue.";
      forget.hidden = !set;
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) {
        digipath.say("Paste an API key first.", "error");
        input.focus();
        return;
      }
      sessionStorage.setItem(KEY_STORAGE, value);
      input.value = "";
      digipath.say("");
      render();
      onKey();
    });
    forget.addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      render();
      input.focus();
    });
    render();
    if (digipath.key()) onKey();
  },
};
