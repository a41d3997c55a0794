// The live alert stream: GET /alerts/stream (Server-Sent Events) read with
// fetch() streaming rather than EventSource, which cannot send the
// Authorization header (a token in the URL would land in proxy logs and
// browser history). Resumed with Last-Event-ID after any drop (exponential
// backoff with jitter); a watchdog aborts a stream that went silent, since a
// dead network often never closes the socket.

import { AuthError, api } from "./api.js";
import { t } from "./i18n.js";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
// The server pings an idle stream every 15 s: three missed pings = dead.
const STALE_MS = 45000;

export class AlertStream {
  // onAlert(alert), onRescue(rescue), onStatus(kind, text) with kind off|wait|live, onAuthError()
  constructor({ onAlert, onRescue, onStatus, onAuthError }) {
    this.onAlert = onAlert;
    this.onRescue = onRescue;
    this.onStatus = onStatus;
    this.onAuthError = onAuthError;
    this.lastEventId = "";
    this.controller = null;
    this.running = false;
    this.wake = null;
    this.snapshotDue = true;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.run();
  }

  stop() {
    this.running = false;
    this.lastEventId = "";
    this.snapshotDue = true;
    if (this.controller) this.controller.abort();
    if (this.wake) this.wake();
    this.onStatus("off", t("console.conn.off"));
  }

  // Reconnect now (another language: the snapshot is read again in it).
  restart() {
    this.snapshotDue = true;
    if (this.controller) this.controller.abort();
    if (this.wake) this.wake();
  }

  retryNow() {
    if (this.wake) this.wake();
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done; // the browser coming back online retries at once
    });
  }

  async run() {
    let delay = BACKOFF_MIN_MS;
    while (this.running) {
      let healthy = false;
      try {
        healthy = await this.once();
      } catch (err) {
        if (err instanceof AuthError) {
          this.onAuthError();
          return;
        }
        if (!this.running) return;
        if (err.name !== "AbortError") console.warn("alert stream dropped:", err);
      }
      if (!this.running) return;
      if (healthy) delay = BACKOFF_MIN_MS;
      if (this.snapshotDue && this.lastEventId) delay = 0; // a restart asked for: at once
      const wait = Math.round(delay / 2 + Math.random() * (delay / 2));
      this.onStatus("wait", t("console.conn.reconnecting", { seconds: Math.ceil(wait / 1000) }));
      await this.sleep(wait);
      delay = Math.min(BACKOFF_MAX_MS, Math.max(delay, BACKOFF_MIN_MS) * 2);
    }
  }

  // One connection: resolves when the stream ends, true if it had worked.
  async once() {
    const controller = new AbortController();
    this.controller = controller;
    const headers = { Accept: "text/event-stream" };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    this.onStatus("wait", t("console.conn.connecting"));
    const resp = await api("/alerts/stream", { headers, signal: controller.signal });
    if (!resp.ok || !resp.body) throw new Error(`stream answered ${resp.status}`);
    // The snapshot is read after the stream is open, so nothing changed in
    // between is missed (the stream starts at the newest event id when no
    // Last-Event-ID is sent); merging keeps the newer version of each alert.
    if (this.snapshotDue) {
      await this.loadSnapshot();
      this.snapshotDue = false;
    }
    this.onStatus("live", t("console.conn.live"));
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
          this.handleBlock(buffer.slice(0, cut));
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

  handleBlock(block) {
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
    if (id !== null && id !== "") this.lastEventId = id;
    if (event === "rescue") {
      // rescue changes share the feed (and so the ids): see js/rescue.js
      try {
        if (this.onRescue && data.length) this.onRescue(JSON.parse(data.join("\n")));
      } catch (err) {
        console.warn("unreadable rescue event", err);
      }
      return;
    }
    if (event !== "alert" && event !== "message") return;
    if (!data.length) return;
    try {
      this.onAlert(JSON.parse(data.join("\n")));
    } catch (err) {
      console.warn("unreadable alert event", err);
    }
  }

  async loadSnapshot() {
    for (const s of ["open", "acknowledged", "dispatched", "on_site"]) {
      let cursor = null;
      for (let page = 0; page < 20; page++) {
        const q = new URLSearchParams({ state: s, limit: "500" });
        if (cursor) q.set("cursor", cursor);
        const resp = await api(`/alerts?${q}`);
        if (!resp.ok) throw new Error(`GET /alerts answered ${resp.status}`);
        const body = await resp.json();
        const items = Array.isArray(body) ? body : body.items || [];
        for (const a of items) this.onAlert(a);
        cursor = body.next_cursor;
        if (!cursor) break;
      }
    }
  }
}
