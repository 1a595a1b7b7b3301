// focusd viewfinder: frames and events over one WebSocket, presses and the AF window by POST.
// Plain JS, no build step, no CDN (the camera is often offline).
"use strict";

const canvas = document.getElementById("preview");
const ctx = canvas.getContext("2d", { willReadFrequently: true });
const $ = (id) => document.getElementById(id);
const state = { window: [0.25, 1 / 3, 0.5, 1 / 3], zoom: 1, peaking: false, frames: 0, captures: 0 };
const PEAKING_THRESHOLD = 60;  // |dx| + |dy| of the grey level that counts as an edge
let lastImage = null, lastMeta = null, socket = null;
// the last frames' ages when drawn (ms from exposure to display), newest last, for the tests too
const DISPLAY_AGES_KEPT = 100;
window.focusdDisplayAgesMs = [];

function post(path, body) {
  return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                       body: JSON.stringify(body), credentials: "same-origin" })
    .then((r) => r.json().then((j) => { if (!r.ok) showError(j.error || r.statusText); return j; }));
}

function showError(text) { $("error").textContent = text || ""; }

// ------------------------------------------------------------------------------ the view

// the part of the frame shown, in fractions of it: all of it, or (magnified) 1/zoom of it each
// way around the AF window's centre, moved inside the frame near an edge
function viewBox() {
  if (state.zoom === 1) return [0, 0, 1, 1];
  const [x, y, w, h] = state.window;
  const v = 1 / state.zoom;
  const clamp = (c) => Math.min(Math.max(c - v / 2, 0), 1 - v);
  return [clamp(x + w / 2), clamp(y + h / 2), v, v];
}

// the image in hand covers the whole frame (a lores frame) or, magnified, the crop of the main
// stream the daemon took (meta.crop, fractions of the frame): the view's rectangle in its pixels
function sourceRect(img, meta) {
  const [cx, cy, cw, ch] = meta.crop || [0, 0, 1, 1];
  const [vx, vy, vw, vh] = viewBox();
  return [(vx - cx) / cw * img.width, (vy - cy) / ch * img.height, vw / cw * img.width, vh / ch * img.height];
}

function draw() {
  if (!lastImage) return;
  const img = lastImage;
  const [sx, sy, sw, sh] = sourceRect(img, lastMeta);
  const outside = sx < -0.5 || sy < -0.5 || sx + sw > img.width + 0.5 || sy + sh > img.height + 0.5;
  if (outside) return;  // a crop taken for another zoom or window: the next frame will do
  // the canvas has the view's own pixels: a main-stream crop is shown 1:1, sharper than the lores
  const width = Math.max(1, Math.round(lastMeta.crop ? sw : img.width));
  const height = Math.max(1, Math.round(lastMeta.crop ? sh : img.height));
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  ctx.imageSmoothingEnabled = state.zoom === 1;
  ctx.drawImage(img, sx, sy, sw, sh, 0, 0, canvas.width, canvas.height);
  if (state.peaking) peak();
  const [x, y, w, h] = state.window;
  const [vx, vy, vw, vh] = viewBox();
  const fx = canvas.width / vw, fy = canvas.height / vh;
  ctx.strokeStyle = state.afState === "FOCUSED" ? "#3f6" : state.afState === "FAILED" ? "#f44" : "#fc3";
  ctx.lineWidth = 3;
  ctx.strokeRect((x - vx) * fx, (y - vy) * fy, w * fx, h * fy);
  canvas.dataset.source = lastMeta.type === "magnified" ? "main" : "lores";
  canvas.dataset.sourceWidth = String(Math.round(sw));  // the image's pixels across the view
}

// focus peaking: edges above the threshold tinted red, computed here (nothing on the camera)
function peak() {
  const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const d = image.data, w = canvas.width, h = canvas.height;
  const grey = new Uint8ClampedArray(w * h);
  for (let i = 0; i < w * h; i++) grey[i] = d[i * 4];
  for (let yy = 1; yy < h - 1; yy++) {
    for (let xx = 1; xx < w - 1; xx++) {
      const i = yy * w + xx;
      const g = Math.abs(grey[i + 1] - grey[i - 1]) + Math.abs(grey[i + w] - grey[i - w]);
      if (g > PEAKING_THRESHOLD) { d[i * 4] = 255; d[i * 4 + 1] = 30; d[i * 4 + 2] = 30; }
    }
  }
  ctx.putImageData(image, 0, 0);
}

function showFrame(meta, blob) {
  createImageBitmap(blob).then((img) => {
    if (lastImage && lastImage.close) lastImage.close();
    lastImage = img;
    lastMeta = meta;
    state.window = meta.window;
    state.frames += 1;
    draw();
    canvas.dataset.frames = String(state.frames);
    canvas.dataset.sequence = String(meta.sequence);
    canvas.dataset.window = meta.window.map((v) => v.toFixed(3)).join(",");
    showDisplayAge(meta);
  });
}

// the frame's age when sent plus the time since it was sent, by the wall clocks of the web process
// and of this browser: right where they are one machine (or NTP-synchronised ones)
function showDisplayAge(meta) {
  const ageMs = meta.age_ms + (Date.now() / 1000 - meta.sent_wall) * 1000;
  const ages = window.focusdDisplayAgesMs;
  ages.push(ageMs);
  if (ages.length > DISPLAY_AGES_KEPT) ages.shift();
  $("latency").textContent = ageMs.toFixed(0);
}

// ----------------------------------------------------------------------------- the status

function dioptres(d) {
  if (d === null || d === undefined) return "-";
  const metres = d > 0.01 ? (1 / d).toFixed(2) + " m" : "∞";
  return d.toFixed(2) + " D (" + metres + ")";
}

function showStatus(s) {
  if (s.af_state !== undefined) setAf(s.af_state);
  if (s.lens_position !== undefined) $("lens").textContent = dioptres(s.lens_position);
  if (s.led !== undefined) $("led").textContent = s.led;
  if (s.captures_written !== undefined) { state.captures = s.captures_written; $("captures").textContent = s.captures_written; }
  if (s.fps !== undefined) $("fps").textContent = Number(s.fps).toFixed(0);
  if (s.window) state.window = s.window;
  if (s.last_error) showError(s.last_error);
  if (s.connected !== undefined) showOffline(!s.connected, DAEMON_DOWN);
}

// which link is down: the web process's to the daemon, or this page's to the web process
const DAEMON_DOWN = "daemon not connected: reconnecting…", PAGE_DOWN = "connection to the camera lost: reconnecting…";
function showOffline(down, text) { $("offline").hidden = !down; if (down) $("offline").textContent = text; }

function setAf(name) { state.afState = name; $("af-state").textContent = name; document.body.dataset.afState = name; }

function onEvent(e) {
  switch (e.event) {
    case "FocusChanged": setAf(e.state); if (e.reason) showError("focus failed: " + e.reason); break;
    case "LensCommanded": $("lens").textContent = dioptres(e.target); break;
    case "LedChanged": $("led").textContent = e.pattern; break;
    case "CaptureWritten": state.captures += 1; $("captures").textContent = state.captures; loadGallery(); break;
    case "CaptureFailed": showError("capture failed: " + e.error); break;
    case "ErrorReported": showError(e.message); break;
    case "FrameStatistics": $("fps").textContent = e.fps.toFixed(0); break;
  }
}

// the web unit restarts: its sessions went with it, so a 401 means log in again; else try again
function reconnect() {
  fetch("/api/state", { credentials: "same-origin" })
    .then((r) => { if (r.status === 401) location.href = "/login"; else setTimeout(connect, 1000); },
          () => setTimeout(connect, 1000));
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.binaryType = "arraybuffer";
  ws.onmessage = (m) => {
    if (typeof m.data === "string") {
      const message = JSON.parse(m.data);
      if (message.settings) window.dispatchEvent(new CustomEvent("focusd-settings", { detail: message.settings }));
      if (message.type === "status") showStatus(message);
      else if (message.type === "event") onEvent(message);
      else if (message.type === "link") showOffline(!message.connected, DAEMON_DOWN);
      else if (message.type === "window") { state.window = message.window; draw(); }
      else if (message.type === "error") showError(message.error);
      return;
    }
    const length = new DataView(m.data).getUint32(0);
    const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(m.data, 4, length)));
    showFrame(meta, new Blob([new Uint8Array(m.data, 4 + length)], { type: "image/jpeg" }));
  };
  ws.onclose = () => { showOffline(true, PAGE_DOWN); socket = null; reconnect(); };
  ws.onopen = () => { document.body.dataset.connected = "yes"; socket = ws; askMagnify(); };
}

// ---------------------------------------------------------------------------- the buttons

// a hold button: pressed while a pointer is down on it, released however the pointer leaves
function holdButton(element, button) {
  let held = false;
  const down = (e) => { e.preventDefault(); if (held) return; held = true; element.classList.add("held");
                        element.setPointerCapture && e.pointerId !== undefined && element.setPointerCapture(e.pointerId);
                        post("/api/press", { button, pressed: true }); };
  const up = () => { if (!held) return; held = false; element.classList.remove("held");
                     post("/api/press", { button, pressed: false }); };
  element.addEventListener("pointerdown", down);
  for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) element.addEventListener(name, up);
  window.addEventListener("blur", up);
}

holdButton($("af-on"), "af_on");
holdButton($("shutter"), "shutter");

function toggle(element, on) { element.setAttribute("aria-pressed", on ? "true" : "false"); }
$("peaking").addEventListener("click", () => { state.peaking = !state.peaking; toggle($("peaking"), state.peaking); draw(); });
// the magnified view comes from the main stream: the daemon crops it while this page asks
function askMagnify() { if (socket) socket.send(JSON.stringify({ type: "magnify", factor: state.zoom })); }
$("magnify").addEventListener("click", () => {
  state.zoom = state.zoom === 1 ? 2 : state.zoom === 2 ? 4 : 1;
  askMagnify();
  $("magnify").textContent = "Magnify " + state.zoom + "x";
  toggle($("magnify"), state.zoom !== 1);
  canvas.dataset.zoom = String(state.zoom);
  draw();
});

function moveWindow(cx, cy) {
  const size = Number($("window-size").value);
  const w = size, h = size;
  const x = Math.min(Math.max(cx - w / 2, 0), 1 - w), y = Math.min(Math.max(cy - h / 2, 0), 1 - h);
  post("/api/window", { window: [x, y, w, h] });
}

// a tap on the preview moves the AF window's centre there (through the magnified view, if any)
canvas.addEventListener("click", (e) => {
  if (!lastImage) return;
  const box = canvas.getBoundingClientRect();
  const [vx, vy, vw, vh] = viewBox();
  moveWindow(vx + (e.clientX - box.left) / box.width * vw, vy + (e.clientY - box.top) / box.height * vh);
});
$("centre").addEventListener("click", () => moveWindow(0.5, 0.5));
$("window-size").addEventListener("change", () => {
  const [x, y, w, h] = state.window;
  moveWindow(x + w / 2, y + h / 2);
});

// ------------------------------------------------------------------------------ the gallery

function loadGallery() {
  fetch("/api/captures", { credentials: "same-origin" }).then((r) => r.json()).then((j) => {
    const gallery = $("gallery");
    const files = j.captures.map((shot) => shot.file).join("/");
    if (gallery.dataset.files === files) return;  // unchanged: keep the thumbnails as they are
    gallery.dataset.files = files;
    gallery.replaceChildren();
    for (const shot of j.captures) {
      const img = document.createElement("img");
      img.src = "/thumbnails/" + encodeURIComponent(shot.file);
      img.alt = shot.file;
      img.title = shot.file;
      img.dataset.file = shot.file;
      img.addEventListener("click", () => showShot(shot));
      gallery.appendChild(img);
    }
  });
}

function showShot(shot) {
  const url = "/captures/" + encodeURIComponent(shot.file);
  $("shot-image").src = url;
  $("shot-download").href = url + "?download=1";
  $("shot-info").textContent = shot.file + ": " + shot.af_state + ", lens " + dioptres(shot.lens_position) +
    ", " + shot.reason + ", " + shot.wall_time;
  $("shot").hidden = false;
}
$("shot-close").addEventListener("click", () => { $("shot").hidden = true; });

connect();
loadGallery();
