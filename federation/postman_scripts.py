"""The scripts the Postman/Insomnia collection runs (Postman's sandbox JavaScript, with its `pm` and `CryptoJS`).

- `KEEP_TOKEN`: after a sign-up or a login, keep the answer's token in the collection's `token`, which every
  vehicle route sends as `Authorization: Bearer {{token}}`.
- `NEW_DRIVER`: before the sample sign-up, draw a new valid CPF, e-mail and plate (kept in collection
  variables, so the login sample logs in as that driver): a second run no longer fails with ACCOUNT_EXISTS.
- `SIGN_PEER`: before every `/peer/v1` request, sign it as docs/booking.md says — HMAC-SHA256 with the pair's
  secret over method, path (with its query), timestamp, the body's SHA-256, caller and callee — from the
  collection variables `peer_caller`, `peer_target` and `peer_secret` (the pair's value in
  run/peer-secrets.json). `tests/servers/test_postman.py` runs these scripts in node against a live server.
"""

from __future__ import annotations

KEEP_TOKEN = """\
const answer = pm.response.json();
if (answer && answer.token) {
    pm.collectionVariables.set("token", answer.token);
}
"""

NEW_DRIVER = """\
function checkDigit(digits) {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) { sum += digits[i] * (digits.length + 1 - i); }
    const r = (sum * 10) % 11;
    return r === 10 ? 0 : r;
}
let digits;
do {
    digits = Array.from({length: 9}, () => Math.floor(Math.random() * 10));
} while (new Set(digits).size === 1);
digits.push(checkDigit(digits));
digits.push(checkDigit(digits));
const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const pick = (s) => s[Math.floor(Math.random() * s.length)];
const stamp = Date.now().toString(36);
pm.collectionVariables.set("signup_cpf", digits.join(""));
pm.collectionVariables.set("signup_email", "driver." + stamp + "@example.com");
pm.collectionVariables.set("signup_plate", pick(letters) + pick(letters) + pick(letters)
    + Math.floor(Math.random() * 10)
    + pick(letters) + String(Math.floor(Math.random() * 100)).padStart(2, "0"));
"""

SIGN_PEER = """\
const caller = pm.collectionVariables.get("peer_caller");
const target = pm.collectionVariables.get("peer_target");
const secret = pm.collectionVariables.get("peer_secret");
if (!secret) {
    throw new Error("set the collection variable peer_secret to the value of '" + [caller, target].sort().join(":")
        + "' in run/peer-secrets.json");
}
const url = pm.request.url;
const query = pm.variables.replaceIn(url.getQueryString() || "");
const path = pm.variables.replaceIn(url.getPath()) + (query ? "?" + query : "");
const body = pm.request.body && pm.request.body.raw ? pm.variables.replaceIn(pm.request.body.raw) : "";
const timestamp = (Date.now() / 1000).toFixed(6);
const message = [pm.request.method.toUpperCase(), path, timestamp,
                 CryptoJS.SHA256(body).toString(CryptoJS.enc.Hex), caller, target].join("\\n");
pm.request.headers.upsert({key: "X-Recarga-Peer", value: caller});
pm.request.headers.upsert({key: "X-Recarga-Timestamp", value: timestamp});
pm.request.headers.upsert({key: "X-Recarga-Signature",
                           value: CryptoJS.HmacSHA256(message, secret).toString(CryptoJS.enc.Hex)});
"""
