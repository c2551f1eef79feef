// Calls to this service's HTTP API, by relative URL (so the page works under a root path).

const KEY = "house-price-api-key";

/** The API key, held in this tab's session storage only (never in a URL, never logged). */
export const apiKey = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (value) => sessionStorage.setItem(KEY, value),
  forget: () => sessionStorage.removeItem(KEY),
};

/**
 * One request. `json` sends a JSON body, `csv` a CSV body (a string or a File); `auth` adds the
 * key. Answers { ok, status, headers, data } where data is the parsed JSON, or the Blob for `as: "blob"`.
 */
export async function call(path, { method = "GET", json, csv, auth = false, as = "json" } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (csv !== undefined) {
    headers["Content-Type"] = "text/csv";
    body = csv;
  }
  if (auth) headers.Authorization = `Bearer ${apiKey.get()}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body, cache: "no-store" });
  } catch (error) {
    return {
      ok: false, status: 0, headers: new Headers(),
      data: { detail: `the service did not answer (${error.message})` },
    };
  }
  const type = response.headers.get("Content-Type") || "";
  let data;
  if (response.ok && as === "blob") data = await response.blob();
  else if (type.includes("application/json")) data = await response.json();
  else data = { detail: (await response.text()) || response.statusText };
  return { ok: response.ok, status: response.status, headers: response.headers, data };
}

/** The field an error is about: the last name in its `loc` (["body", "sqft"] → "sqft"). */
export function fieldOf(error) {
  const loc = Array.isArray(error.loc) ? error.loc : [];
  for (let i = loc.length - 1; i >= 0; i -= 1) {
    if (typeof loc[i] === "string" && loc[i] !== "body" && loc[i] !== "query") return loc[i];
  }
  return null;
}

/** Every message of an error answer, in the API's own words. */
export function messages(data, status) {
  const detail = data && data.detail;
  if (Array.isArray(detail)) return detail.map((e) => (typeof e === "string" ? e : e.msg));
  if (typeof detail === "string") return [detail];
  return [`the service answered ${status}`];
}
