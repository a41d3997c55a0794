// What a dispatch desk acts on, and the filters over the rest.
//
// The desk view shows the critical and major kinds (CONTRACT.md's
// severities) that send someone out now: trapped passengers, elevator
// faults, missed alarm-line tests (a trapped passenger could not call),
// overfills and every illegal filling, and any critical kind added later.
// It leaves out what is paperwork for the office, however severe: alerts
// raised from registry dates (inspection overdue or failed, hazards and
// insurance) and the minor and info kinds (terminal offline, maintenance
// overdue, post-check missing, inspection due soon). Those sit behind the
// "other" view, counted by kind.

const RANK = { critical: 0, major: 1, minor: 2, info: 3 };
const DESK_SEVERITIES = new Set(["critical", "major"]);
// Major in the contract, but no one is dispatched for them.
const OFFICE_KINDS = new Set([
  "inspection_overdue",
  "inspection_failed_in_use",
  "hazard_overdue",
  "maintenance_unverified",
  "insurance_expiring",
  "insurance_lapsed",
]);

export const VIEWS = ["desk", "other", "all"];

export function forDesk(alert) {
  return DESK_SEVERITIES.has(alert.severity) && !OFFICE_KINDS.has(alert.kind);
}

export function inView(alert, view) {
  if (view === "all") return true;
  return view === "desk" ? forDesk(alert) : !forDesk(alert);
}

// Alerts with no district known (a cylinder of no station) filter as one group.
export const NO_DISTRICT = "-";

export function district(alert) {
  return (alert.location && alert.location.district) || alert.district || NO_DISTRICT;
}

// Severity first (critical on top), then age: the longest-waiting first.
// Resolved alerts (shown only on request) go last.
export function compare(a, b) {
  const ra = a.state === "resolved" ? 1 : 0;
  const rb = b.state === "resolved" ? 1 : 0;
  if (ra !== rb) return ra - rb;
  const sa = RANK[a.severity] ?? 9;
  const sb = RANK[b.severity] ?? 9;
  if (sa !== sb) return sa - sb;
  const ta = Date.parse(a.started_at || a.raised_at || 0);
  const tb = Date.parse(b.started_at || b.raised_at || 0);
  if (ta !== tb) return ta - tb;
  return String(a.alert_id).localeCompare(String(b.alert_id));
}

function countBy(alerts, keyOf) {
  const counts = new Map();
  for (const a of alerts) counts.set(keyOf(a), (counts.get(keyOf(a)) || 0) + 1);
  return counts;
}

// filter: { view, district ("" = any), kind ("" = any), showResolved }
// Returns the alerts to show, sorted, and the counts the controls show:
// per view (under district and kind), per district (under view and kind),
// per kind (under view and district), and the kinds the desk view hides.
export function select(alerts, filter) {
  const live = alerts.filter((a) => filter.showResolved || a.state !== "resolved");
  const byDistrict = (a) => !filter.district || district(a) === filter.district;
  const byKind = (a) => !filter.kind || a.kind === filter.kind;
  const viewCounts = {};
  for (const view of VIEWS) {
    viewCounts[view] = live.filter((a) => inView(a, view) && byDistrict(a) && byKind(a)).length;
  }
  const inCurrent = (a) => inView(a, filter.view);
  return {
    shown: live.filter((a) => inCurrent(a) && byDistrict(a) && byKind(a)).sort(compare),
    viewCounts,
    districtCounts: countBy(live.filter((a) => inCurrent(a) && byKind(a)), district),
    kindCounts: countBy(live.filter((a) => inCurrent(a) && byDistrict(a)), (a) => a.kind),
    hiddenByKind: countBy(live.filter((a) => !forDesk(a) && byDistrict(a)), (a) => a.kind),
  };
}
