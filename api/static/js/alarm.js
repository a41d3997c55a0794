// Impossible to miss: an unacknowledged critical alert (a trapped passenger,
// an overfill) shows a flashing banner, beeps (WebAudio) and flashes the tab
// title until someone acknowledges it, whatever the filters show.

import { label, t } from "./i18n.js";

const BEEP_EVERY_MS = 2000;
const $ = (id) => document.getElementById(id);

let audio = null;
let muted = false;
let flashTimer = null;
let beepTimer = null;
let toastTimer = null;
let critical = [];

export function unacknowledgedCritical(alerts) {
  return alerts.filter((a) => a.severity === "critical" && a.state === "open");
}

export function updateCritical(alerts) {
  critical = unacknowledgedCritical(alerts);
  const banner = $("critical-banner");
  banner.hidden = critical.length === 0;
  banner.classList.toggle("flash", critical.length > 0);
  if (critical.length) {
    $("critical-count").textContent = t("console.critical.count", { count: critical.length });
    $("critical-list").replaceChildren(
      ...critical.map((a) => {
        const li = document.createElement("li");
        const where = (a.location && a.location.address) || a.equipment_id;
        li.textContent = t("console.critical.item", {
          kind: label("alert.kind", a.kind),
          where,
          summary: a.summary || "",
        });
        return li;
      }),
    );
    if (!flashTimer) {
      let on = false;
      flashTimer = setInterval(() => {
        on = !on;
        document.title = on
          ? t("console.critical.tab_title", { count: critical.length })
          : t("console.title");
      }, 1000);
    }
    if (!beepTimer) beepTimer = setInterval(beep, BEEP_EVERY_MS);
  } else {
    clearInterval(flashTimer);
    clearInterval(beepTimer);
    flashTimer = beepTimer = null;
    document.title = t("console.title");
  }
}

export function enableSound() {
  try {
    if (!audio) audio = new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch (err) {
    console.warn("no audio", err);
  }
}

export function toggleMute() {
  muted = !muted;
  showMute();
}

export function showMute() {
  $("mute").textContent = muted ? t("console.sound.unmute") : t("console.sound.mute");
}

export function beep() {
  if (muted || !audio || audio.state !== "running") return;
  for (const offset of [0, 0.3]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "square";
    osc.frequency.value = 880;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(audio.destination);
    osc.start(audio.currentTime + offset);
    osc.stop(audio.currentTime + offset + 0.2);
  }
}

export function toast(text, bad) {
  const el = $("toast");
  el.textContent = text;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}
