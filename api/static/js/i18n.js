// The console's language: texts from the platform's message catalogs
// (GET /console/i18n/{language}.json, the console.* keys and the contract's
// vocabularies), the reader's choice remembered in this browser
// (localStorage), and times in the platform's time zone, 24-hour.
//
// In the catalog test's eyes (tests/semon/test_catalogs.py) a key is used
// when it appears as t("key") or msg("key") in these modules, or as
// data-i18n="key" / data-i18n-<attribute>="key" in console.html.

export const LANGUAGES = ["zh-CN", "en"];
const STORAGE_KEY = "semon.language";

const pack = { language: "zh-CN", timezone: "Asia/Shanghai", messages: {} };
let dateFmt = null;
let timeFmt = null;
let dayFmt = null;
let dateOnlyFmt = null;

// The stored choice, or "auto": the server picks from Accept-Language with
// the platform's default language.
export function chosenLanguage() {
  const stored = localStorage.getItem(STORAGE_KEY);
  return LANGUAGES.includes(stored) ? stored : "auto";
}

export function rememberLanguage(language) {
  localStorage.setItem(STORAGE_KEY, language);
}

export function language() {
  return pack.language;
}

export async function loadLanguage(choice) {
  const resp = await fetch(`/console/i18n/${encodeURIComponent(choice)}.json`, {
    cache: "no-store",
  });
  if (!resp.ok) throw new Error(`language pack answered ${resp.status}`);
  const body = await resp.json();
  pack.language = body.language;
  pack.timezone = body.timezone;
  pack.messages = body.messages || {};
  const zone = { timeZone: pack.timezone };
  // The same fields as semon/i18n/timefmt.py (CLDR skeletons yMMMd and Hms).
  dateFmt = new Intl.DateTimeFormat(pack.language, {
    ...zone, year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  timeFmt = new Intl.DateTimeFormat(pack.language, {
    ...zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  dateOnlyFmt = new Intl.DateTimeFormat(pack.language, {
    ...zone, year: "numeric", month: "short", day: "numeric",
  });
  dayFmt = new Intl.DateTimeFormat("en-CA", { ...zone, year: "numeric", month: "2-digit", day: "2-digit" });
  document.documentElement.lang = pack.language;
}

// A key marked for later: msg("console.x") is the key itself, to be passed to t().
export function msg(key) {
  return key;
}

export function t(key, args = {}) {
  const text = pack.messages[key];
  if (text === undefined) {
    console.warn("no text for", key);
    return key;
  }
  return text.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}/g, (whole, name, spec) => {
    if (!name) return whole[0];
    if (!(name in args)) return whole;
    const value = args[name];
    if (spec === "datetime") return formatTime(value);
    if (spec === "time") return formatTime(value, "time");
    if (spec === "date") return formatTime(value, "date");
    if (typeof value === "number") return value.toLocaleString(pack.language);
    return value == null ? "—" : String(value);
  });
}

// A word of one of the contract's vocabularies (alert.kind, alert.state ...).
export function label(group, value) {
  const key = `${group}.${value}`;
  return key in pack.messages ? t(key) : String(value ?? "").replaceAll("_", " ");
}

// A {x:datetime} is today's time alone, an older one with its date ("today"
// in the platform's zone, not the browser's); {x:time} and {x:date} one part.
export function formatTime(iso, part = "") {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  if (part === "date") return dateOnlyFmt.format(d);
  if (part === "time" || dayFmt.format(d) === dayFmt.format(new Date())) return timeFmt.format(d);
  return dateFmt.format(d);
}

export function formatSpan(ms) {
  if (!(ms >= 0)) return "";
  const s = Math.floor(ms / 1000);
  if (s < 60) return t("console.span.seconds", { s });
  if (s < 3600) return t("console.span.minutes", { m: Math.floor(s / 60), s: s % 60 });
  return t("console.span.hours", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

// Texts of the page itself: data-i18n="key" sets the text, data-i18n-<attr>
// ="key" sets that attribute (placeholder, aria-label, title).
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("*")) {
    for (const attr of el.getAttributeNames()) {
      if (attr === "data-i18n") el.textContent = t(el.getAttribute(attr));
      else if (attr.startsWith("data-i18n-")) {
        el.setAttribute(attr.slice("data-i18n-".length), t(el.getAttribute(attr)));
      }
    }
  }
  for (const button of document.querySelectorAll("button.lang")) {
    button.setAttribute("aria-pressed", String(button.dataset.language === pack.language));
  }
}
