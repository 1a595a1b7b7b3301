// focusd viewfinder: the settings section. The daemon's running values fill the form (from the
// status it sends first and every "settings" message after a change); Apply posts the fields that
// differ, and the daemon's answer (applied and saved, or refused naming the key) is shown.
"use strict";

(() => {
  const form = document.getElementById("settings");
  const message = document.getElementById("settings-message");
  let running = {};

  function field(key) { return form.elements.namedItem(key); }

  function valueOf(key) {
    const input = field(key);
    if (input.type === "checkbox") return input.checked;
    if (input.type === "number") return input.value === "" ? null : Number(input.value);
    return input.value;
  }

  function show(settings) {
    running = settings;
    for (const [key, value] of Object.entries(settings)) {
      const input = field(key);
      if (!input) continue;
      if (input.type === "checkbox") input.checked = Boolean(value); else input.value = String(value);
    }
    form.dataset.settings = JSON.stringify(settings);
  }

  function say(text, kind) { message.textContent = text; message.className = kind; }

  fetch("/api/settings", { credentials: "same-origin" }).then((r) => r.json()).then((j) => show(j.settings));

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const changes = {};
    for (const key of Object.keys(running)) {
      const value = valueOf(key);
      if (value !== running[key]) changes[key] = value;
    }
    if (Object.keys(changes).length === 0) { say("nothing changed", ""); return; }
    fetch("/api/settings", { method: "POST", headers: { "Content-Type": "application/json" },
                             body: JSON.stringify({ settings: changes }), credentials: "same-origin" })
      .then((r) => r.json().then((j) => {
        if (r.ok) { show(j.settings); say(j.saved ? "applied and saved" : "applied (no configuration file to keep it)", "saved"); }
        else { say(j.error || r.statusText, "refused"); if (j.key && field(j.key)) field(j.key).focus(); }
      }));
  });

  // the daemon's values as they change (another page's change too): app.js forwards them from the
  // page's WebSocket
  window.addEventListener("focusd-settings", (e) => show(e.detail));
})();
