// The board: every alert known, its card, the filters, and the actions a
// dispatcher takes on a card.

import { AuthError, api, session } from "./api.js";
import { beep, toast, updateCritical } from "./alarm.js";
import { NO_DISTRICT, district, select } from "./desk.js";
import { formatSpan, label, msg, t, translatePage } from "./i18n.js";

const STATES = ["open", "acknowledged", "dispatched", "on_site", "resolved"];
const ORDER = Object.fromEntries(STATES.map((s, i) => [s, i]));
const TARGET = { ack: "acknowledged", dispatch: "dispatched", arrive: "on_site", resolve: "resolved" };
const KEEP_RESOLVED_MS = 3600 * 1000;
const STEPS = [
  ["acknowledged_at", "acknowledged"],
  ["dispatched_at", "dispatched"],
  ["on_site_at", "on_site"],
  ["resolved_at", "resolved"],
];
const VIEW_LABELS = {
  desk: msg("console.view.desk"),
  other: msg("console.view.other"),
  all: msg("console.view.all"),
};
const $ = (id) => document.getElementById(id);

export const board = {
  alerts: new Map(), // alert_id -> alert message
  cards: new Map(), // alert_id -> <li>
  contacts: new Map(), // elevator_id -> {firmName, firmPhone, sitePhone} or null while loading
  filter: { view: "desk", district: "", kind: "", showResolved: false },
  onAuthError: () => {},
};

export function merge(alert) {
  if (!alert || !alert.alert_id) return;
  const known = board.alerts.get(alert.alert_id);
  // Stream and snapshot can cross: the newer version of an alert wins.
  if (known && newer(known, alert)) return;
  const isNewCritical =
    alert.severity === "critical" && alert.state === "open" && (!known || known.state !== "open");
  board.alerts.set(alert.alert_id, Object.assign({}, known || {}, alert));
  if (alert.equipment_type === "elevator") loadContact(alert.equipment_id);
  scheduleRender();
  if (isNewCritical) beep();
}

export function clear() {
  board.alerts.clear();
  for (const card of board.cards.values()) card.remove();
  board.cards.clear();
  render();
}

function newer(a, b) {
  const ta = Date.parse(a.updated_at || 0);
  const tb = Date.parse(b.updated_at || 0);
  return ta > tb || (ta === tb && ORDER[a.state] > ORDER[b.state]);
}

// Many changes at once (a snapshot, a burst after a resume) render once.
let renderPending = false;
export function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => {
    renderPending = false;
    render();
  }, 0);
}

async function loadContact(elevatorId) {
  if (!elevatorId || board.contacts.has(elevatorId)) return;
  board.contacts.set(elevatorId, null);
  try {
    const resp = await api(`/elevators/${encodeURIComponent(elevatorId)}`);
    if (!resp.ok) return;
    const file = await resp.json();
    const firm = file.firm || {};
    const elevator = file.elevator || {};
    board.contacts.set(elevatorId, {
      firmName: firm.name || "",
      firmPhone: firm.phone || "",
      sitePhone: elevator.contact_phone || "",
    });
    scheduleRender();
  } catch (err) {
    console.warn("no contact for", elevatorId, err);
  }
}

export function render() {
  const now = Date.now();
  for (const [id, a] of board.alerts) {
    if (a.state === "resolved" && now - Date.parse(a.updated_at || 0) > KEEP_RESOLVED_MS) {
      board.alerts.delete(id);
    }
  }
  const all = [...board.alerts.values()];
  const picked = select(all, board.filter);
  const shownIds = new Set(picked.shown.map((a) => a.alert_id));
  for (const [id, card] of board.cards) {
    if (!board.alerts.has(id)) {
      card.remove();
      board.cards.delete(id);
    } else if (!shownIds.has(id)) card.hidden = true;
  }
  const list = $("alerts");
  picked.shown.forEach((alert, index) => {
    let card = board.cards.get(alert.alert_id);
    if (!card) {
      card = newCard(alert.alert_id);
      board.cards.set(alert.alert_id, card);
    }
    fillCard(card, alert);
    card.hidden = false;
    if (list.children[index] !== card) list.insertBefore(card, list.children[index] || null);
  });
  renderFilters(picked);
  const unresolved = all.filter((a) => a.state !== "resolved").length;
  $("counts").textContent = t("console.counts.unresolved", { count: unresolved });
  $("empty").hidden = picked.shown.length > 0;
  $("empty").textContent = unresolved ? t("console.empty.filtered") : t("console.empty.none");
  updateCritical(all);
}

function option(value, text, selected) {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = text;
  el.selected = selected;
  return el;
}

// Each control counts what it would show, under the other filters.
function renderFilters(picked) {
  const f = board.filter;
  for (const button of document.querySelectorAll("button.view")) {
    const view = button.dataset.view;
    button.textContent = t(VIEW_LABELS[view], { count: picked.viewCounts[view] });
    button.setAttribute("aria-pressed", String(view === f.view));
    button.dataset.count = String(picked.viewCounts[view]);
  }
  const districts = [...picked.districtCounts].sort((a, b) => a[0].localeCompare(b[0]));
  if (f.district && !picked.districtCounts.has(f.district)) districts.push([f.district, 0]);
  $("district").replaceChildren(
    option("", t("console.filter.any_district", { count: sum(picked.districtCounts) }), !f.district),
    ...districts.map(([d, n]) =>
      option(d, t("console.filter.option", { name: d === NO_DISTRICT ? t("console.card.unknown") : d, count: n }), d === f.district),
    ),
  );
  const kinds = [...picked.kindCounts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (f.kind && !picked.kindCounts.has(f.kind)) kinds.push([f.kind, 0]);
  $("kind").replaceChildren(
    option("", t("console.filter.any_kind", { count: sum(picked.kindCounts) }), !f.kind),
    ...kinds.map(([k, n]) =>
      option(k, t("console.filter.option", { name: label("alert.kind", k), count: n }), k === f.kind),
    ),
  );
  const hidden = [...picked.hiddenByKind].sort((a, b) => b[1] - a[1]);
  const note = $("hidden-note");
  note.hidden = f.view !== "desk" || hidden.length === 0;
  $("hidden-text").textContent = t("console.desk.hidden", {
    count: sum(picked.hiddenByKind),
    kinds: hidden
      .map(([k, n]) => t("console.filter.option", { name: label("alert.kind", k), count: n }))
      .join(t("console.list_separator")),
  });
}

function sum(counts) {
  let n = 0;
  for (const v of counts.values()) n += v;
  return n;
}

function newCard(alertId) {
  const card = $("alert-template").content.firstElementChild.cloneNode(true);
  card.dataset.alertId = alertId;
  for (const button of card.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(alertId, button.dataset.action, card));
  }
  return card;
}

// The page's language changed: the cards' fixed texts too.
export function translateCards() {
  for (const card of board.cards.values()) translatePage(card);
}

function fillCard(card, a) {
  card.className = `alert sev-${a.severity} state-${a.state}`;
  card.dataset.state = a.state;
  card.dataset.severity = a.severity;
  card.dataset.kind = a.kind;
  card.dataset.equipmentId = a.equipment_id;
  card.dataset.district = district(a);
  const q = (sel) => card.querySelector(sel);
  q(".sev").textContent = label("alert.severity", a.severity);
  q(".kind").textContent = label("alert.kind", a.kind);
  q(".state").textContent = label("alert.state", a.state);
  q(".equip").textContent = `${label("equipment.type", a.equipment_type)} ${a.equipment_id}`;
  q(".age").textContent = a.started_at ? t("console.card.since", { time: a.started_at }) : "";
  q(".age").dataset.time = a.started_at || "";
  q(".summary").textContent = a.summary || "";
  const loc = a.location || {};
  const place =
    loc.address && loc.district
      ? t("console.card.place", { address: loc.address, district: loc.district })
      : loc.address || loc.district || "";
  const coords = loc.lat != null && loc.lon != null ? ` (${loc.lat}, ${loc.lon})` : "";
  q(".location").textContent = place ? place + coords : t("console.card.unknown");
  const contact = board.contacts.get(a.equipment_id);
  let firm = a.firm_id || t("console.card.unknown");
  if (contact && contact.firmName) firm += ` — ${contact.firmName}`;
  if (contact && contact.firmPhone) firm += t("console.card.phone", { phone: contact.firmPhone });
  q(".firm").textContent = firm;
  let unit = a.use_unit || t("console.card.unknown");
  if (contact && contact.sitePhone) unit += t("console.card.site_phone", { phone: contact.sitePhone });
  q(".use-unit").textContent = unit;
  const raised = Date.parse(a.raised_at);
  const steps = [t("console.card.raised", { time: a.raised_at })];
  for (const [field, state] of STEPS) {
    if (a[field]) {
      steps.push(
        t("console.card.step", {
          step: label("alert.state", state),
          time: a[field],
          after: formatSpan(Date.parse(a[field]) - raised),
        }),
      );
    }
  }
  if (a.resolution) steps.push(t("console.card.resolution_was", { resolution: label("alert.resolution", a.resolution) }));
  q(".timeline").textContent = steps.join(" · ");
  for (const opt of card.querySelectorAll("select.resolution option[value]")) {
    if (opt.value) opt.textContent = label("alert.resolution", opt.value);
  }
  for (const button of card.querySelectorAll("button[data-action]")) {
    const target = TARGET[button.dataset.action];
    button.disabled = !(ORDER[target] > ORDER[a.state]) || card.dataset.busy === "1";
  }
  q(".resolution").disabled = a.state === "resolved";
  q(".note").disabled = a.state === "resolved";
}

const DONE = {
  ack: msg("console.action.ack_done"),
  dispatch: msg("console.action.dispatch_done"),
  arrive: msg("console.action.arrive_done"),
  resolve: msg("console.action.resolve_done"),
};

async function act(alertId, action, card) {
  const body = { by: session.operator };
  const note = card.querySelector(".note").value.trim();
  if (note) body.note = note;
  if (action === "resolve") {
    const resolution = card.querySelector(".resolution").value;
    if (!resolution) {
      toast(t("console.action.pick_resolution_first"), true);
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
      toast(t(DONE[action]));
    } else {
      let detail = `${resp.status}`;
      try {
        // A problem's detail, in the console's language (Accept-Language);
        // a 422 lists its errors.
        const body = await resp.json();
        const d = body.detail;
        detail = (Array.isArray(d) ? d.map((e) => e.msg).join("; ") : d) || body.title || detail;
      } catch (_) {
        /* not JSON */
      }
      const text =
        resp.status === 409
          ? t("console.action.conflict", { detail })
          : t("console.action.failed", { detail });
      toast(text, true);
    }
  } catch (err) {
    if (err instanceof AuthError) {
      board.onAuthError();
      return;
    }
    toast(t("console.action.network_error", { detail: err.message }), true);
  } finally {
    delete card.dataset.busy;
    render();
  }
}
