// semon dispatch console: plain ES modules, no build step, no third-party code.
//
//   js/i18n.js    language (中文 / English, remembered), texts, times
//   js/api.js     token and API calls
//   js/stream.js  the live alert stream (SSE over fetch, resumed after drops)
//   js/desk.js    what a dispatch desk acts on; filters, counts, order
//   js/board.js   the cards and the actions on them
//   js/alarm.js   banner, beep, tab title and toasts for critical alerts
//   js/rescue.js  rescues: the call-intake form and the rescue cards
//   js/regulator.js  the month's report and the map of the lifts

import { enableSound, showMute, toggleMute } from "./js/alarm.js";
import { forgetToken, saveSession, session } from "./js/api.js";
import { board, clear, merge, render, translateCards } from "./js/board.js";
import { chosenLanguage, loadLanguage, rememberLanguage, t, translatePage } from "./js/i18n.js";
import { clearRescues, loadRescues, rescueChanged, setupRescues, translateRescues } from "./js/rescue.js";
import { loadReport, setUpRegulator } from "./js/regulator.js";
import { AlertStream } from "./js/stream.js";

const $ = (id) => document.getElementById(id);

const stream = new AlertStream({
  onAlert: merge,
  onRescue: (r) => rescueChanged(r).catch((err) => console.warn(err)),
  onStatus: setConn,
  onAuthError: () => logout(t("console.login.refused")),
});
board.onAuthError = () => logout(t("console.login.refused"));

function setConn(kind, text) {
  const el = $("conn");
  el.className = `conn conn-${kind}`;
  el.textContent = text;
  el.dataset.state = kind;
}

function showLogin(message) {
  $("login").hidden = false;
  $("board").hidden = true;
  $("regulator").hidden = true;
  $("pages").hidden = true;
  $("logout").hidden = true;
  $("mute").hidden = true;
  $("who").textContent = "";
  $("login-error").textContent = message || "";
  if (session.operator) $("operator").value = session.operator;
}

function showBoard() {
  $("login").hidden = true;
  showPage("board");
  $("pages").hidden = false;
  $("logout").hidden = false;
  $("mute").hidden = false;
  $("who").textContent = session.operator;
}

// The alert board or the regulator's page (its report is read when opened).
function showPage(page) {
  $("board").hidden = page !== "board";
  $("regulator").hidden = page !== "regulator";
  for (const button of document.querySelectorAll("button.page")) {
    button.setAttribute("aria-pressed", String(button.dataset.page === page));
  }
  if (page === "regulator") loadReport();
}

function login(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  const operator = $("operator").value.trim();
  if (!token || !operator) return;
  saveSession(token, operator);
  $("token").value = "";
  enableSound(); // a click is the gesture browsers require before playing audio
  start();
}

function start() {
  showBoard();
  stream.start();
  loadRescues().catch((err) => console.warn("rescues not loaded", err));
}

function logout(message) {
  forgetToken();
  stream.stop();
  clear();
  clearRescues();
  showLogin(message);
}

async function switchLanguage(language) {
  rememberLanguage(language);
  await loadLanguage(language);
  applyLanguage();
  // Summaries come from the API in the reader's language: read them again.
  if (session.token) stream.restart();
}

function applyLanguage() {
  translatePage();
  translatePage($("alert-template").content);
  translateCards();
  translateRescues();
  showMute();
  if (!stream.running) setConn("off", t("console.conn.off"));
  render();
}

function setFilter(change) {
  Object.assign(board.filter, change);
  render();
}

async function main() {
  await loadLanguage(chosenLanguage());
  applyLanguage();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout(""));
  $("mute").addEventListener("click", toggleMute);
  for (const button of document.querySelectorAll("button.lang")) {
    button.addEventListener("click", () => switchLanguage(button.dataset.language));
  }
  for (const button of document.querySelectorAll("button.view")) {
    button.addEventListener("click", () => setFilter({ view: button.dataset.view }));
  }
  setupRescues({ authError: () => logout(t("console.login.refused")) });
  $("show-others").addEventListener("click", () => setFilter({ view: "all" }));
  for (const button of document.querySelectorAll("button.page")) {
    button.addEventListener("click", () => showPage(button.dataset.page));
  }
  setUpRegulator();
  $("district").addEventListener("change", (e) => setFilter({ district: e.target.value }));
  $("kind").addEventListener("change", (e) => setFilter({ kind: e.target.value }));
  $("show-resolved").addEventListener("change", (e) => setFilter({ showResolved: e.target.checked }));
  // Browsers allow audio only after a gesture: any click on the page unlocks it.
  document.addEventListener("click", enableSound);
  window.addEventListener("online", () => stream.retryNow());
  setInterval(render, 30000); // ages and the resolved-alert cleanup
  document.body.dataset.ready = "1";
  if (session.token && session.operator) start();
  else showLogin("");
}

main();
