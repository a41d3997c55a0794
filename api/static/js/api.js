// Calls to the semon API with the dispatcher's token (kept in this tab only,
// sessionStorage) in the Authorization header, never in a URL, and the
// console's language in Accept-Language so texts come back in it.

import { language } from "./i18n.js";

export const session = {
  token: sessionStorage.getItem("semon.token") || "",
  operator: sessionStorage.getItem("semon.operator") || "",
};

export class AuthError extends Error {}

export function saveSession(token, operator) {
  session.token = token;
  session.operator = operator;
  sessionStorage.setItem("semon.token", token);
  sessionStorage.setItem("semon.operator", operator);
}

export function forgetToken() {
  session.token = "";
  sessionStorage.removeItem("semon.token");
}

export async function api(path, options = {}) {
  const headers = Object.assign(
    { Authorization: `Bearer ${session.token}`, "Accept-Language": language() },
    options.headers || {},
  );
  const resp = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  if (resp.status === 401) throw new AuthError("token refused");
  return resp;
}
