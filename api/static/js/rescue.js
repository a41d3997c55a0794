// Rescues (the 96333 work order) on the desk: the call-intake form (find the
// lift by id, rescue code or address as the dispatcher types) and a card per
// rescue in progress with its tier ladder, the countdown to the next
// deadline, and the steps (dispatch, arrive, free, call back, close).
//
// Rescues come from GET /rescues at start and from `event: rescue` on the
// alert stream after that; each event reloads that rescue (its countdown
// comes with it).

import { toast } from "./alarm.js";
import { api, AuthError } from "./api.js";
import { formatSpan, label, msg, t, translatePage } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const ACTIVE = ["open", "dispatched", "on_site", "freed"];
const LADDER = { firm: msg("console.rescue.ladder.firm"), rescue_org: msg("console.rescue.ladder.org"), fire: msg("console.rescue.ladder.fire") };
const COUNTDOWN = {
  dispatch: [msg("console.rescue.countdown.dispatch"), msg("console.rescue.countdown.dispatch_late")],
  arrival: [msg("console.rescue.countdown.arrival"), msg("console.rescue.countdown.arrival_late")],
};
const DONE = {
  dispatch: msg("console.rescue.done.dispatch"),
  arrive: msg("console.rescue.done.arrive"),
  free: msg("console.rescue.done.free"),
  callback: msg("console.rescue.done.callback"),
  close: msg("console.rescue.done.close"),
};
// Which steps each state allows (the server's table decides; this only greys buttons).
const ALLOWED = {
  open: ["dispatch", "callback", "close"],
  dispatched: ["dispatch", "arrive", "callback", "close"],
  on_site: ["free", "callback", "close"],
  freed: ["callback", "close"],
  closed: [],
};

const rescues = new Map(); // rescue_id -> rescue
let onAuthError = () => {};
let chosen = null; // the lift the call is about
let callKey = newKey(); // one Idempotency-Key per call, kept across retries
let searchTimer = null;

function newKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `call-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

async function call(path, options) {
  try {
    return await api(path, options);
  } catch (err) {
    if (err instanceof AuthError) onAuthError();
    throw err;
  }
}

async function problem(resp) {
  try {
    const body = await resp.json();
    const d = body.detail;
    if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
    return d || String(resp.status);
  } catch (_) {
    return String(resp.status);
  }
}

// -- intake -----------------------------------------------------------------

async function search() {
  const q = $("intake-lift").value.trim();
  const hits = $("intake-hits");
  hits.replaceChildren();
  if (!q) return;
  const resp = await call(`/rescues/lifts?${new URLSearchParams({ q, limit: "8" })}`);
  if (!resp.ok || $("intake-lift").value.trim() !== q) return;
  const lifts = await resp.json();
  if (!lifts.length) {
    const li = document.createElement("li");
    li.textContent = t("console.rescue.intake.no_match");
    hits.append(li);
    return;
  }
  for (const lift of lifts) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "hit";
    button.dataset.elevator = lift.elevator_id;
    button.textContent = `${lift.elevator_id} · ${lift.rescue_code || "—"} · ${lift.address}`;
    button.addEventListener("click", () => choose(lift));
    li.append(button);
    hits.append(li);
  }
}

function choose(lift) {
  chosen = lift;
  $("intake-hits").replaceChildren();
  $("intake-chosen").textContent = t("console.rescue.intake.chosen", {
    elevator_id: lift.elevator_id,
    address: lift.address,
  });
  $("intake-submit").disabled = false;
}

function resetIntake() {
  chosen = null;
  callKey = newKey();
  for (const id of ["intake-lift", "intake-name", "intake-phone", "intake-trapped", "intake-note"]) {
    $(id).value = "";
  }
  $("intake-chosen").textContent = "";
  $("intake-submit").disabled = true;
}

async function submitCall(event) {
  event.preventDefault();
  if (!chosen) return;
  const body = { elevator_id: chosen.elevator_id };
  const name = $("intake-name").value.trim();
  const phone = $("intake-phone").value.trim();
  const trapped = $("intake-trapped").value;
  const note = $("intake-note").value.trim();
  if (name) body.caller_name = name;
  if (phone) body.caller_phone = phone;
  if (trapped !== "") body.trapped_reported = Number(trapped);
  if (note) body.note = note;
  $("intake-error").textContent = "";
  $("intake-submit").disabled = true;
  try {
    const resp = await call("/rescues", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": callKey },
      body: JSON.stringify(body),
    });
    if (!resp.ok) {
      $("intake-error").textContent = t("console.rescue.failed", { detail: await problem(resp) });
      $("intake-submit").disabled = false;
      return;
    }
    const rescue = await resp.json();
    upsert(rescue);
    const done = resp.status === 201 ? msg("console.rescue.intake.opened") : msg("console.rescue.intake.joined");
    toast(t(done, { elevator_id: rescue.elevator_id }));
    resetIntake();
  } catch (err) {
    // a network drop: the same key makes a retry the same call
    $("intake-error").textContent = t("console.rescue.failed", { detail: String(err) });
    $("intake-submit").disabled = false;
  }
}

// -- the list -----------------------------------------------------------------

export async function loadRescues() {
  for (const state of ACTIVE) {
    const resp = await call(`/rescues?${new URLSearchParams({ state, limit: "200" })}`);
    if (!resp.ok) return;
    for (const r of (await resp.json()).items) upsert(r);
  }
}

// An `event: rescue` from the stream: read that rescue again.
export async function rescueChanged(event) {
  if (!event || !event.rescue_id) return;
  const resp = await call(`/rescues/${encodeURIComponent(event.rescue_id)}`);
  if (resp.ok) upsert(await resp.json());
}

function upsert(rescue) {
  const known = rescues.get(rescue.rescue_id);
  if (known && known.updated_at > rescue.updated_at) return;
  if (rescue.state === "closed") rescues.delete(rescue.rescue_id);
  else rescues.set(rescue.rescue_id, rescue);
  renderRescues();
}

export function clearRescues() {
  rescues.clear();
  resetIntake();
  renderRescues();
}

function card(rescue) {
  let li = document.querySelector(`li.rescue[data-rescue="${CSS.escape(rescue.rescue_id)}"]`);
  if (!li) {
    li = $("rescue-template").content.firstElementChild.cloneNode(true);
    translatePage(li);
    li.dataset.rescue = rescue.rescue_id;
    for (const button of li.querySelectorAll("button[data-step]")) {
      button.addEventListener("click", () => step(li.dataset.rescue, button.dataset.step, li));
    }
    li.querySelector(".r-tier").addEventListener("change", () => prefill(li, rescues.get(li.dataset.rescue), true));
  }
  return li;
}

function prefill(li, rescue, force) {
  // The assignee and phone of the chosen tier, from the ladder.
  const tier = Number(li.querySelector(".r-tier").value);
  const who = (rescue.ladder || []).find((e) => e.tier === tier);
  const assignee = li.querySelector(".r-assignee");
  const phone = li.querySelector(".r-phone");
  if (force || !assignee.value) assignee.value = who ? who.name || who.id || "" : "";
  if (force || !phone.value) phone.value = who ? who.phone || "" : "";
}

function fill(li, rescue) {
  li.className = `rescue r-${rescue.state}`;
  li.dataset.state = rescue.state;
  li.dataset.tier = String(rescue.tier);
  li.querySelector(".r-state").textContent = label("rescue.state", rescue.state);
  li.querySelector(".r-equip").textContent = rescue.elevator_id;
  li.querySelector(".r-code").textContent = rescue.rescue_code
    ? t("console.rescue.card.code", { code: rescue.rescue_code })
    : "";
  li.querySelector(".r-location").textContent = (rescue.location && rescue.location.address) || "";
  const sent = new Set((rescue.assignments || []).map((a) => a.tier));
  const ladder = li.querySelector(".ladder");
  ladder.replaceChildren();
  for (const entry of rescue.ladder || []) {
    const item = document.createElement("li");
    item.textContent = t(LADDER[entry.who] || LADDER.fire, {
      name: entry.name || entry.id || "",
      phone: entry.phone || "—",
    });
    item.dataset.tier = String(entry.tier);
    if (entry.tier === rescue.tier && rescue.state !== "freed") item.classList.add("due");
    if (sent.has(entry.tier)) item.classList.add("sent");
    ladder.append(item);
  }
  const steps = [t("console.rescue.step.opened", { at: rescue.opened_at })];
  for (const a of rescue.assignments || []) {
    steps.push(t("console.rescue.step.dispatched", { tier: a.tier, assignee: a.assignee, at: a.dispatched_at }));
  }
  if (rescue.on_site_at) steps.push(t("console.rescue.step.on_site", { at: rescue.on_site_at }));
  if (rescue.freed_at) {
    steps.push(t("console.rescue.step.freed", { at: rescue.freed_at, trapped: rescue.trapped_count, injured: rescue.injured_count }));
  }
  if (rescue.callback_at) steps.push(t("console.rescue.step.callback", { at: rescue.callback_at }));
  steps.push(t("console.rescue.step.calls", { n: (rescue.calls || []).length }));
  if ((rescue.escalations || []).length) {
    steps.push(t("console.rescue.step.escalations", { n: rescue.escalations.length }));
  }
  li.querySelector(".r-steps").textContent = steps.join(" · ");
  const tierSelect = li.querySelector(".r-tier");
  if (li.dataset.shownTier !== String(rescue.tier)) {
    tierSelect.value = String(rescue.tier);
    li.dataset.shownTier = String(rescue.tier);
    prefill(li, rescue, true);
  }
  for (const option of li.querySelectorAll(".r-cause option[value]:not([value=''])")) {
    option.textContent = label("rescue.cause", option.value);
  }
  const allowed = ALLOWED[rescue.state] || [];
  for (const button of li.querySelectorAll("button[data-step]")) {
    button.disabled = li.dataset.busy === "1" || !allowed.includes(button.dataset.step);
  }
  tick(li, rescue);
}

function tick(li, rescue) {
  const el = li.querySelector(".r-countdown");
  const due = rescue.next_deadline;
  if (!due || rescue.state === "freed") {
    el.textContent = "";
    el.classList.remove("overdue");
    return;
  }
  const left = new Date(due.due_at).getTime() - Date.now();
  const [before, late] = COUNTDOWN[due.kind] || COUNTDOWN.dispatch;
  el.textContent = left >= 0
    ? t(before, { tier: due.tier, left: formatSpan(left) })
    : t(late, { tier: due.tier, late: formatSpan(-left) });
  el.classList.toggle("overdue", left < 0);
  el.dataset.leftS = String(Math.round(left / 1000));
}

export function renderRescues() {
  const list = $("rescues");
  const ordered = [...rescues.values()].sort((a, b) => (a.opened_at < b.opened_at ? -1 : 1));
  const keep = new Set();
  for (const rescue of ordered) {
    const li = card(rescue);
    fill(li, rescue);
    list.append(li); // in order (append moves an existing card)
    keep.add(rescue.rescue_id);
  }
  for (const li of [...list.children]) if (!keep.has(li.dataset.rescue)) li.remove();
  $("rescues-empty").hidden = rescues.size > 0;
}

export function translateRescues() {
  for (const li of document.querySelectorAll("li.rescue")) translatePage(li);
  renderRescues();
}

function tickAll() {
  for (const li of document.querySelectorAll("li.rescue")) {
    const rescue = rescues.get(li.dataset.rescue);
    if (rescue) tick(li, rescue);
  }
}

async function step(rescueId, action, li) {
  const body = {};
  if (action === "dispatch") {
    body.tier = Number(li.querySelector(".r-tier").value);
    body.assignee = li.querySelector(".r-assignee").value.trim();
    body.phone = li.querySelector(".r-phone").value.trim();
  } else if (action === "free") {
    body.trapped_count = Number(li.querySelector(".r-trapped").value || "0");
    body.injured_count = Number(li.querySelector(".r-injured").value || "0");
  } else if (action === "callback") {
    const note = li.querySelector(".r-note").value.trim();
    if (note) body.note = note;
  } else if (action === "close") {
    const cause = li.querySelector(".r-cause").value;
    if (!cause) {
      toast(t("console.rescue.pick_cause_first"), true);
      li.querySelector(".r-cause").focus();
      return;
    }
    body.cause_category = cause;
    const note = li.querySelector(".r-note").value.trim();
    if (note) body.cause_note = note;
  }
  li.dataset.busy = "1";
  renderRescues();
  try {
    const resp = await call(`/rescues/${encodeURIComponent(rescueId)}/${action}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (resp.ok) {
      delete li.dataset.busy;
      upsert(await resp.json());
      if (action === "callback") li.querySelector(".r-note").value = "";
      toast(t(DONE[action]));
    } else {
      toast(t("console.rescue.failed", { detail: await problem(resp) }), true);
    }
  } finally {
    delete li.dataset.busy;
    renderRescues();
  }
}

export function setupRescues({ authError }) {
  onAuthError = authError;
  $("intake").addEventListener("submit", submitCall);
  $("intake-lift").addEventListener("input", () => {
    clearTimeout(searchTimer);
    chosen = null;
    $("intake-submit").disabled = true;
    $("intake-chosen").textContent = "";
    searchTimer = setTimeout(() => search().catch((err) => console.warn(err)), 200);
  });
  setInterval(tickAll, 1000);
}
