// A small stand-in for Postman's script sandbox (pm, CryptoJS), enough to run the collection's own scripts.
// Input (stdin, JSON): {script, variables, request: {method, path, query, body}, response}. Output: the
// collection variables and request headers after the script ran.
const crypto = require("crypto");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const vars = new Map(Object.entries(input.variables || {}));
const headers = {};
const replaceIn = (text) => String(text).replace(/{{(\w+)}}/g, (_, name) => vars.has(name) ? vars.get(name) : "");
const Hex = "hex";
const digest = (hex) => ({toString: (enc) => hex});
global.CryptoJS = {
  enc: {Hex},
  SHA256: (text) => digest(crypto.createHash("sha256").update(String(text), "utf8").digest("hex")),
  HmacSHA256: (text, key) => digest(crypto.createHmac("sha256", String(key)).update(String(text), "utf8").digest("hex")),
};
const req = input.request || {};
global.pm = {
  collectionVariables: {get: (k) => vars.get(k), set: (k, v) => vars.set(k, String(v))},
  variables: {replaceIn, get: (k) => vars.get(k)},
  request: {
    method: req.method || "GET",
    url: {getPath: () => req.path || "/", getQueryString: () => req.query || ""},
    body: req.body === undefined ? undefined : {raw: req.body},
    headers: {upsert: (h) => { headers[h.key] = h.value; }},
  },
  response: {json: () => input.response},
};
new Function(input.script)();
process.stdout.write(JSON.stringify({variables: Object.fromEntries(vars), headers}));
