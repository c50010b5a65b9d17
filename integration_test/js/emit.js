"use strict";
/*
 * emit.js: drives @socket.io/redis-emitter 5 for the Go integration tests.
 *
 * Usage: node js/emit.js '<json>'   (or the JSON on stdin)
 *   {
 *     "redisUrl": "redis://127.0.0.1:6379",   required
 *     "prefix": "socket.io",                   emitter key (default "socket.io")
 *     "nsp": "/",                              namespace (default "/")
 *     "op": "emit",                            emit | socketsJoin | socketsLeave |
 *                                              disconnectSockets (default emit)
 *     "rooms": ["r1"], "except": ["r2"],       targets (default: everyone)
 *     "event": "ev", "args": [...],            for op=emit; {"$bin":"<base64>"}
 *                                              in args is sent as binary
 *     "target": "room" or ["rooms"],           for socketsJoin / socketsLeave
 *     "close": false                           for disconnectSockets
 *   }
 * Prints {"ok":true} (or {"ok":false,"error":"..."}) and exits 0 (or 1).
 */

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

function fromJSONValue(v) {
  if (Array.isArray(v)) return v.map(fromJSONValue);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(v.$bin, "base64");
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromJSONValue(x);
    return out;
  }
  return v;
}

function readInput() {
  if (process.argv[2]) return Promise.resolve(process.argv[2]);
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

async function main() {
  const req = JSON.parse(await readInput());
  if (!req.redisUrl) throw new Error("redisUrl is required");
  const client = createClient({ url: req.redisUrl });
  client.on("error", (err) => console.error("redis error:", err.message));
  await client.connect();
  try {
    let op = new Emitter(client, { key: req.prefix || "socket.io" }, req.nsp || "/");
    for (const r of req.rooms || []) op = op.to(r);
    for (const r of req.except || []) op = op.except(r);
    switch (req.op || "emit") {
      case "emit":
        if (typeof req.event !== "string" || req.event === "") throw new Error("event is required");
        op.emit(req.event, ...fromJSONValue(req.args || []));
        break;
      case "socketsJoin":
        op.socketsJoin(req.target);
        break;
      case "socketsLeave":
        op.socketsLeave(req.target);
        break;
      case "disconnectSockets":
        op.disconnectSockets(Boolean(req.close));
        break;
      default:
        throw new Error(`unknown op ${JSON.stringify(req.op)}`);
    }
  } finally {
    // QUIT is queued after the PUBLISH commands, so they are sent first.
    await client.quit();
  }
}

main().then(
  () => process.stdout.write(JSON.stringify({ ok: true }) + "\n"),
  (err) => {
    process.stdout.write(JSON.stringify({ ok: false, error: err.message }) + "\n");
    process.exitCode = 1;
  },
);
