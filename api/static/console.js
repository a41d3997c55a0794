// semon dispatch console. Plain JS, no build step, no third-party code.
//
// Live alerts come from GET /alerts/stream (Server-Sent Events) read with
// fetch() streaming rather than EventSource: EventSource cannot send the
// Authorization header, and a token in the URL would land in proxy logs and
// browser history. The stream is resumed with Last-Event-ID after any drop
// (exponential backoff with jitter; a watchdog aborts a stream that went
// silent, since a dead network often never closes the socket).
"use strict";

(() => {
  const STATES = ["open", "acknowledged", "dispatched", "on_site", "resolved"];
  const ORDER = Object.fromEntries(STATES.map((s, i) => [s, i]));
  const TARGET = { ack: "acknowledged", dispatch: "dispatched", arrive: "on_site", resolve: "resolved" };
  const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, info: 3 };
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  // The server pings an idle stream every 15 s: three missed pings = dead.
  const STALE_MS = 45000;
  const BEEP_EVERY_MS = 2000;
  const KEEP_RESOLVED_MS = 3600 * 1000;

  const state = {
    token: sessionStorage.getItem("semon.token") || "",
    operator: sessionStorage.getItem("semon.operator") || "",
    lastEventId: "",
    alerts: new Map(), // alert_id -> alert message
    cards: new Map(), // alert_id -> <li>
    contacts: new Map(), // elevator_id -> {firm, phone} or null while loading
    controller: null,
    running: false,
    wake: null,
    muted: false,
    audio: null,
    connected: false,
  };

  const $ = (id) => document.getElementById(id);

  // ---------- login ----------

  function showLogin(message) {
    $("login").hidden = false;
    $("board").hidden = true;
    $("logout").hidden = true;
    $("mute").hidden = true;
    $("who").textContent = "";
    $("login-error").textContent = message || "";
    if (state.operator) $("operator").value = state.operator;
  }

  function showBoard() {
    $("login").hidden = true;
    $("board").hidden = false;
    $("logout").hidden = false;
    $("mute").hidden = false;
    $("who").textContent = state.operator;
  }

  function login(event) {
    event.preventDefault();
    state.token = $("token").value.trim();
    state.operator = $("operator").value.trim();
    if (!state.token || !state.operator) return;
    sessionStorage.setItem("semon.token", state.token);
    sessionStorage.setItem("semon.operator", state.operator);
    $("token").value = "";
    enableSound(); // a click is the gesture browsers require before playing audio
    start();
  }

  function logout(message) {
    state.token = "";
    sessionStorage.removeItem("semon.token");
    stop();
    state.alerts.clear();
    state.lastEventId = "";
    for (const card of state.cards.values()) card.remove();
    state.cards.clear();
    render();
    showLogin(message);
  }

  class AuthError extends Error {}

  async function api(path, options = {}) {
    const headers = Object.assign({ Authorization: `Bearer ${state.token}` }, options.headers || {});
    const resp = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
    if (resp.status === 401) throw new AuthError("token refused");
    return resp;
  }

  // ---------- the stream ----------

  function start() {
    showBoard();
    if (state.running) return;
    state.running = true;
    runStream();
  }

  function stop() {
    state.running = false;
    if (state.controller) state.controller.abort();
    if (state.wake) state.wake();
    setConn("off", "not connected");
  }

  function setConn(kind, text) {
    const el = $("conn");
    el.className = `conn conn-${kind}`;
    el.textContent = text;
    el.dataset.state = kind;
    state.connected = kind === "live";
  }

  function sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        state.wake = null;
        resolve();
      }
      state.wake = done; // the browser coming back online retries at once
    });
  }

  async function runStream() {
    let delay = BACKOFF_MIN_MS;
    while (state.running) {
      let healthy = false;
      try {
        healthy = await streamOnce();
      } catch (err) {
        if (err instanceof AuthError) {
          logout("The token was refused: log in again.");
          return;
        }
        if (!state.running) return;
        console.warn("alert stream dropped:", err);
      }
      if (!state.running) return;
      if (healthy) delay = BACKOFF_MIN_MS;
      const wait = Math.round(delay / 2 + Math.random() * (delay / 2));
      setConn("wait", `reconnecting in ${Math.ceil(wait / 1000)} s`);
      await sleep(wait);
      delay = Math.min(BACKOFF_MAX_MS, delay * 2);
    }
  }

  // One connection: resolves when the stream ends, true if it had worked.
  async function streamOnce() {
    const controller = new AbortController();
    state.controller = controller;
    const headers = { Accept: "text/event-stream" };
    if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
    setConn("wait", "connecting…");
    const resp = await api("/alerts/stream", { headers, signal: controller.signal });
    if (!resp.ok || !resp.body) throw new Error(`stream answered ${resp.status}`);
    // The snapshot is read after the stream is open, so nothing changed in
    // between is missed (the stream starts at the newest event id when no
    // Last-Event-ID is sent); merging keeps the newer version of each alert.
    if (!state.lastEventId) await loadSnapshot();
    setConn("live", "live");
    const openedAt = Date.now();
    let lastByte = openedAt;
    const watchdog = setInterval(() => {
      if (Date.now() - lastByte > STALE_MS) controller.abort();
    }, 1000);
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        lastByte = Date.now();
        buffer += value;
        buffer = buffer.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          handleBlock(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } finally {
      clearInterval(watchdog);
      controller.abort();
    }
    // A stream the server closes at once is not healthy: keep backing off.
    return Date.now() - openedAt > 5000;
  }

  function handleBlock(block) {
    let event = "message";
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue; // comments are keep-alive pings
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (id !== null && id !== "") state.lastEventId = id;
    if (event !== "alert" && event !== "message") return;
    if (!data.length) return;
    try {
      merge(JSON.parse(data.join("\n")));
    } catch (err) {
      console.warn("unreadable alert event", err);
    }
  }

  async function loadSnapshot() {
    for (const s of ["open", "acknowledged", "dispatched", "on_site"]) {
      let cursor = null;
      for (let page = 0; page < 20; page++) {
        const q = new URLSearchParams({ state: s, limit: "500" });
        if (cursor) q.set("cursor", cursor);
        const resp = await api(`/alerts?${q}`);
        if (!resp.ok) throw new Error(`GET /alerts answered ${resp.status}`);
        const body = await resp.json();
        const items = Array.isArray(body) ? body : body.items || [];
        for (const a of items) merge(a);
        cursor = body.next_cursor;
        if (!cursor) break;
      }
    }
  }

  // ---------- the alerts ----------

  function merge(alert) {
    if (!alert || !alert.alert_id) return;
    const known = state.alerts.get(alert.alert_id);
    // Stream and snapshot can cross: the newer version of an alert wins.
    if (known && newer(known, alert)) return;
    const isNewCritical =
      alert.severity === "critical" && alert.state === "open" && (!known || known.state !== "open");
    state.alerts.set(alert.alert_id, Object.assign({}, known || {}, alert));
    if (alert.equipment_type === "elevator") loadContact(alert.equipment_id);
    scheduleRender();
    if (isNewCritical) beep();
  }

  // Many changes at once (a snapshot, a burst after a resume) render once.
  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    setTimeout(() => {
      renderPending = false;
      render();
    }, 0);
  }

  function newer(a, b) {
    const ta = Date.parse(a.updated_at || 0);
    const tb = Date.parse(b.updated_at || 0);
    return ta > tb || (ta === tb && ORDER[a.state] > ORDER[b.state]);
  }

  async function loadContact(elevatorId) {
    if (!elevatorId || state.contacts.has(elevatorId)) return;
    state.contacts.set(elevatorId, null);
    try {
      const resp = await api(`/elevators/${encodeURIComponent(elevatorId)}`);
      if (!resp.ok) return;
      const file = await resp.json();
      const firm = file.firm || {};
      const elevator = file.elevator || {};
      state.contacts.set(elevatorId, {
        firmName: firm.name || "",
        firmPhone: firm.phone || "",
        sitePhone: elevator.contact_phone || "",
      });
      scheduleRender();
    } catch (err) {
      console.warn("no contact for", elevatorId, err);
    }
  }

  function visible(alert) {
    return $("show-resolved").checked || alert.state !== "resolved";
  }

  function sortKey(a, b) {
    const ua = a.severity === "critical" && a.state === "open" ? 0 : 1;
    const ub = b.severity === "critical" && b.state === "open" ? 0 : 1;
    if (ua !== ub) return ua - ub;
    const ra = a.state === "resolved" ? 1 : 0;
    const rb = b.state === "resolved" ? 1 : 0;
    if (ra !== rb) return ra - rb;
    const sa = SEVERITY_RANK[a.severity] ?? 9;
    const sb = SEVERITY_RANK[b.severity] ?? 9;
    if (sa !== sb) return sa - sb;
    return Date.parse(b.raised_at || 0) - Date.parse(a.raised_at || 0);
  }

  function render() {
    const now = Date.now();
    for (const [id, a] of state.alerts) {
      if (a.state === "resolved" && now - Date.parse(a.updated_at || 0) > KEEP_RESOLVED_MS) {
        state.alerts.delete(id);
      }
    }
    for (const [id, card] of state.cards) {
      if (!state.alerts.has(id)) {
        card.remove();
        state.cards.delete(id);
      }
    }
    const list = $("alerts");
    const shown = [...state.alerts.values()].filter(visible).sort(sortKey);
    shown.forEach((alert, index) => {
      let card = state.cards.get(alert.alert_id);
      if (!card) {
        card = newCard(alert.alert_id);
        state.cards.set(alert.alert_id, card);
      }
      fillCard(card, alert);
      card.hidden = false;
      if (list.children[index] !== card) list.insertBefore(card, list.children[index] || null);
    });
    for (const [id, card] of state.cards) {
      if (!visible(state.alerts.get(id))) card.hidden = true;
    }
    const open = [...state.alerts.values()].filter((a) => a.state !== "resolved");
    $("empty").hidden = open.length > 0;
    $("counts").textContent = `${open.length} not resolved`;
    updateCritical();
  }

  function newCard(alertId) {
    const card = $("alert-template").content.firstElementChild.cloneNode(true);
    card.dataset.alertId = alertId;
    for (const button of card.querySelectorAll("button[data-action]")) {
      button.addEventListener("click", () => act(alertId, button.dataset.action, card));
    }
    return card;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    // Today's times alone; anything older with its date, so "since 08:00" is never ambiguous.
    const today = new Date().toDateString() === d.toDateString();
    return today ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function fmtSpan(ms) {
    if (!(ms >= 0)) return "";
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  function fillCard(card, a) {
    card.className = `alert sev-${a.severity} state-${a.state}`;
    card.dataset.state = a.state;
    card.dataset.severity = a.severity;
    card.dataset.kind = a.kind;
    card.dataset.equipmentId = a.equipment_id;
    const q = (sel) => card.querySelector(sel);
    q(".sev").textContent = a.severity;
    q(".kind").textContent = (a.kind || "").replaceAll("_", " ");
    q(".state").textContent = (a.state || "").replace("_", " ");
    q(".equip").textContent = `${a.equipment_type} ${a.equipment_id}`;
    q(".age").textContent = a.started_at ? `since ${fmtTime(a.started_at)}` : "";
    q(".summary").textContent = a.summary || "";
    const loc = a.location || {};
    const place = [loc.address, loc.district].filter(Boolean).join(", ");
    const coords = loc.lat != null && loc.lon != null ? ` (${loc.lat}, ${loc.lon})` : "";
    q(".location").textContent = place ? place + coords : "unknown";
    const contact = state.contacts.get(a.equipment_id);
    let firm = a.firm_id || "unknown";
    if (contact && contact.firmName) firm += ` — ${contact.firmName}`;
    if (contact && contact.firmPhone) firm += `, tel. ${contact.firmPhone}`;
    q(".firm").textContent = firm;
    let unit = a.use_unit || "unknown";
    if (contact && contact.sitePhone) unit += `, on-site tel. ${contact.sitePhone}`;
    q(".use-unit").textContent = unit;
    const raised = Date.parse(a.raised_at);
    const steps = [`raised ${fmtTime(a.raised_at)}`];
    for (const [key, label] of [
      ["acknowledged_at", "ack"],
      ["dispatched_at", "dispatched"],
      ["on_site_at", "on site"],
      ["resolved_at", "resolved"],
    ]) {
      if (a[key]) steps.push(`${label} ${fmtTime(a[key])} (+${fmtSpan(Date.parse(a[key]) - raised)})`);
    }
    if (a.resolution) steps.push(`resolution: ${a.resolution.replace("_", " ")}`);
    q(".timeline").textContent = steps.join(" · ");
    for (const button of card.querySelectorAll("button[data-action]")) {
      const target = TARGET[button.dataset.action];
      button.disabled = !(ORDER[target] > ORDER[a.state]) || card.dataset.busy === "1";
    }
    q(".resolution").disabled = a.state === "resolved";
    q(".note").disabled = a.state === "resolved";
  }

  async function act(alertId, action, card) {
    const body = { by: state.operator };
    const note = card.querySelector(".note").value.trim();
    if (note) body.note = note;
    if (action === "resolve") {
      const resolution = card.querySelector(".resolution").value;
      if (!resolution) {
        toast("Pick a resolution first.", true);
        card.querySelector(".resolution").focus();
        return;
      }
      body.resolution = resolution;
    }
    card.dataset.busy = "1";
    render();
    try {
      const resp = await api(`/alerts/${encodeURIComponent(alertId)}/${action}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (resp.ok) {
        merge(await resp.json());
        card.querySelector(".note").value = "";
        toast(`${action} recorded`);
      } else {
        let detail = `${resp.status}`;
        try {
          detail = (await resp.json()).detail || detail;
        } catch (_) {
          /* not JSON */
        }
        toast(resp.status === 409 ? `Not possible now: ${detail}` : `Failed: ${detail}`, true);
      }
    } catch (err) {
      if (err instanceof AuthError) {
        logout("The token was refused: log in again.");
        return;
      }
      toast(`Network error: ${err.message}`, true);
    } finally {
      delete card.dataset.busy;
      render();
    }
  }

  // ---------- impossible to miss ----------

  function unacknowledgedCritical() {
    return [...state.alerts.values()].filter((a) => a.severity === "critical" && a.state === "open");
  }

  let flashTimer = null;
  let beepTimer = null;

  function updateCritical() {
    const crit = unacknowledgedCritical();
    const banner = $("critical-banner");
    banner.hidden = crit.length === 0;
    banner.classList.toggle("flash", crit.length > 0);
    if (crit.length) {
      $("critical-count").textContent =
        `${crit.length} CRITICAL ALERT${crit.length > 1 ? "S" : ""} NOT ACKNOWLEDGED`;
      const ul = $("critical-list");
      ul.replaceChildren(
        ...crit.map((a) => {
          const li = document.createElement("li");
          const where = (a.location && a.location.address) || a.equipment_id;
          li.textContent = `${(a.kind || "").replaceAll("_", " ")} — ${where}: ${a.summary || ""}`;
          return li;
        }),
      );
      if (!flashTimer) {
        let on = false;
        flashTimer = setInterval(() => {
          on = !on;
          const n = unacknowledgedCritical().length;
          document.title = on ? `(${n}) CRITICAL — semon dispatch` : "semon dispatch";
        }, 1000);
      }
      if (!beepTimer) beepTimer = setInterval(beep, BEEP_EVERY_MS);
    } else {
      clearInterval(flashTimer);
      clearInterval(beepTimer);
      flashTimer = beepTimer = null;
      document.title = "semon dispatch";
    }
  }

  function enableSound() {
    try {
      if (!state.audio) state.audio = new AudioContext();
      if (state.audio.state === "suspended") state.audio.resume();
    } catch (err) {
      console.warn("no audio", err);
    }
  }

  function beep() {
    if (state.muted || !state.audio || state.audio.state !== "running") return;
    const ctx = state.audio;
    for (const offset of [0, 0.3]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + offset);
      osc.stop(ctx.currentTime + offset + 0.2);
    }
  }

  let toastTimer = null;
  function toast(text, bad) {
    const el = $("toast");
    el.textContent = text;
    el.className = bad ? "toast bad" : "toast";
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (el.hidden = true), 5000);
  }

  // ---------- wiring ----------

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", () => logout(""));
    $("mute").addEventListener("click", () => {
      state.muted = !state.muted;
      $("mute").textContent = state.muted ? "Unmute sound" : "Mute sound";
    });
    $("show-resolved").addEventListener("change", render);
    // Browsers allow audio only after a gesture: any click on the page unlocks it.
    document.addEventListener("click", enableSound);
    window.addEventListener("online", () => state.wake && state.wake());
    setInterval(render, 30000); // ages and the resolved-alert cleanup
    if (state.token && state.operator) start();
    else showLogin("");
  });
})();
