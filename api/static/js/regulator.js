// The regulator's page: the month's report as a table a person reads (the
// figures and their headings come from GET /reports/monthly in the page's
// language), its CSV and XLSX downloads, and the district's lifts drawn from
// GET /map/elevators.geojson as an SVG of points: no tile server, since a
// city's network may have none.

import { api } from "./api.js";
import { label, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const MAP_W = 640;
const MAP_H = 420;
const PAD = 16;

// The month before this one, as YYYY-MM: the report a regulator files.
export function lastMonth(now = new Date()) {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

function query() {
  const params = new URLSearchParams({ month: $("report-month").value });
  const district = $("report-district").value.trim();
  if (district) params.set("district", district);
  return params;
}

function formatValue(key, value) {
  if (value === null || value === undefined) return "—";
  if (/(_rate|_share|_within_\d+min)$/.test(key)) return `${(value * 100).toFixed(2)}%`;
  if (key.endsWith("_s")) return `${Math.round(value)}`;
  return String(value);
}

function renderReport(report) {
  $("report-title").textContent = report.title;
  $("report-as-of").textContent = t("console.regulator.as_of", { day: report.as_of });
  const body = $("report-rows");
  body.replaceChildren();
  let section = "";
  for (const f of report.figures) {
    const tr = document.createElement("tr");
    tr.dataset.key = f.key;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = f.section === section ? "" : label("report.section", f.section);
    section = f.section;
    const name = document.createElement("td");
    name.textContent = f.label;
    const value = document.createElement("td");
    value.className = "value";
    value.textContent = formatValue(f.key, f.value);
    tr.append(th, name, value);
    body.append(tr);
  }
  for (const [kind, n] of Object.entries(report.illegal_fillings_by_kind)) {
    const tr = document.createElement("tr");
    tr.dataset.key = `illegal_fillings.${kind}`;
    const th = document.createElement("th");
    const name = document.createElement("td");
    name.textContent = `· ${label("alert.kind", kind)}`;
    const value = document.createElement("td");
    value.className = "value";
    value.textContent = String(n);
    tr.append(th, name, value);
    body.append(tr);
  }
}

function pointClass(p) {
  if (p.failed_in_use) return "pt pt-failed";
  if (p.inspection_overdue) return "pt pt-overdue";
  if (p.alert_kinds && p.alert_kinds.length) return "pt pt-alert";
  return "pt pt-ok";
}

// Equirectangular, scaled to fit the points (a district is small enough
// that the cosine of its latitude is one number).
export function project(features) {
  const pts = features.map((f) => f.geometry.coordinates);
  const lons = pts.map((c) => c[0]);
  const lats = pts.map((c) => c[1]);
  const [minLon, maxLon] = [Math.min(...lons), Math.max(...lons)];
  const [minLat, maxLat] = [Math.min(...lats), Math.max(...lats)];
  const kx = Math.cos(((minLat + maxLat) / 2) * (Math.PI / 180));
  const spanX = Math.max((maxLon - minLon) * kx, 1e-6);
  const spanY = Math.max(maxLat - minLat, 1e-6);
  const scale = Math.min((MAP_W - 2 * PAD) / spanX, (MAP_H - 2 * PAD) / spanY);
  return (c) => [PAD + (c[0] - minLon) * kx * scale, MAP_H - PAD - (c[1] - minLat) * scale];
}

function renderMap(fc) {
  const svg = $("report-map");
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${MAP_W} ${MAP_H}`);
  const features = fc.features || [];
  $("map-count").textContent = t("console.regulator.lifts", { count: features.length });
  if (!features.length) return;
  const at = project(features);
  for (const f of features) {
    const [x, y] = at(f.geometry.coordinates);
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x.toFixed(1));
    dot.setAttribute("cy", y.toFixed(1));
    dot.setAttribute("r", "5");
    dot.setAttribute("class", pointClass(f.properties));
    dot.dataset.id = f.id;
    const title = document.createElementNS(SVG, "title");
    const p = f.properties;
    const kinds = (p.alert_kinds || []).map((k) => label("alert.kind", k)).join("、");
    title.textContent = [p.elevator_id, p.address, p.grade || "", kinds].filter(Boolean).join(" · ");
    dot.append(title);
    svg.append(dot);
  }
}

async function download(format) {
  const params = query();
  params.set("format", format);
  const resp = await api(`/reports/monthly?${params}`);
  if (!resp.ok) {
    $("report-error").textContent = t("console.regulator.failed", { status: resp.status });
    return;
  }
  const blob = await resp.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `semon-report-${params.get("month")}.${format}`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

export async function loadReport() {
  $("report-error").textContent = "";
  const params = query();
  const mapParams = new URLSearchParams();
  const [report, map] = await Promise.all([
    api(`/reports/monthly?${params}`),
    api(`/map/elevators.geojson?${mapParams}`),
  ]);
  if (!report.ok) {
    $("report-error").textContent = t("console.regulator.failed", { status: report.status });
    $("report-rows").replaceChildren();
  } else {
    renderReport(await report.json());
  }
  if (map.ok) {
    const fc = await map.json();
    const district = params.get("district");
    if (district) fc.features = fc.features.filter((f) => f.properties.district === district);
    renderMap(fc);
  }
  document.body.dataset.report = params.get("month");
}

export function setUpRegulator() {
  $("report-month").value = lastMonth();
  $("report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadReport();
  });
  $("report-csv").addEventListener("click", () => download("csv"));
  $("report-xlsx").addEventListener("click", () => download("xlsx"));
}
