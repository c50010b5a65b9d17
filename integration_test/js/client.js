"use strict";
/*
 * client.js: scripted socket.io-client driver for the Go integration tests.
 *
 * Usage: node js/client.js < scenario.json   (or: node js/client.js '<json>')
 *
 * Scenario:
 *   {
 *     "url": "http://127.0.0.1:3000",   default server URL of the clients
 *     "timeoutMs": 10000,                default timeout of a step
 *     "clients": [{
 *        "name": "a",                     required, unique
 *        "url": "...",                    overrides scenario.url
 *        "namespace": "/custom",          default "/"
 *        "transports": ["websocket"],     default ["polling","websocket"]
 *        "upgrade": false,                default true
 *        "auth": {...},                   CONNECT payload
 *        "acks": {"question": "echo"},    how server->client acks are answered:
 *                                         "echo" (same args), "id" (socket id),
 *                                         {"value": x}; "ping-room" defaults to "id"
 *        "lazy": true                     connect only at a {"connect": name} step
 *     }],
 *     "steps": [ ... ]                    run in order, each must succeed
 *   }
 *
 * Steps:
 *   {"client":"a","emit":"ev","args":[...]}          fire and forget
 *   {"client":"a","emit":"ev","args":[...],"ack":true,"save":"k",
 *    "until": <pattern>, "timeoutMs": n}             emit with ack; results[k] is
 *                                         the array of ack args; with "until" the
 *                                         emit is repeated (every 100 ms) until
 *                                         the first ack arg matches the pattern
 *   {"client":"a","wait":"ev","count":1,"match":<pattern>}
 *                                         wait until a received >= count events
 *                                         named ev (whose first arg matches)
 *   {"client":"a","waitUpgrade":true}    wait until the transport is websocket
 *   {"client":"a","waitDisconnect":true} wait until a is disconnected
 *   {"quietMs": 300}                     sleep (for "nothing else arrives")
 *   {"mark":"name"}                      print {"type":"mark","name":...} now
 *   {"connect":"a"} / {"disconnect":"a"}
 *
 * Value encoding: in args/patterns, {"$bin":"<base64>"} is a Buffer and the
 * string "$id:a" is client a's socket id; in the output, binary values are
 * written as {"$bin":"<base64>"}.
 *
 * Pattern matching: a primitive matches an equal value; an object matches an
 * object that has every key of the pattern with a matching value; an array
 * matches an array in which every pattern element matches some element.
 *
 * Output: zero or more mark lines, then one line
 *   {"type":"result","ok":bool,"error":"...","failedStep":i,
 *    "clients":{"a":{"id","connected","connectError":{"message","data"},
 *      "transportAtOpen","transport","upgraded","pings","disconnectReason",
 *      "events":[{"event","args"}]}},
 *    "results":{"k":[...ack args]}}
 * transportAtOpen is the engine.io transport when the connection opened,
 * transport the current one, upgraded whether a polling->websocket upgrade
 * happened, pings the number of server pings seen.
 * Exit status 0 when ok, 1 otherwise.
 */

const { io } = require("socket.io-client");

const MAX_EVENTS = 10000;

function readScenario() {
  if (process.argv[2]) return Promise.resolve(JSON.parse(process.argv[2]));
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (err) {
        reject(new Error(`invalid scenario JSON: ${err.message}`));
      }
    });
    process.stdin.on("error", reject);
  });
}

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

/** toJSONValue converts received values (Buffers) to the output encoding. */
function toJSONValue(v) {
  if (v === undefined || typeof v === "function") return null;
  if (isBinary(v)) {
    const buf = Buffer.isBuffer(v) ? v : v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $bin: buf.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(toJSONValue);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJSONValue(x);
    return out;
  }
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Driver {
  constructor(scenario) {
    this.scenario = scenario;
    this.defaultTimeout = scenario.timeoutMs || 10000;
    this.clients = new Map();
    this.results = {};
  }

  /** fromJSONValue resolves {"$bin"} and "$id:name" in scenario values. */
  fromJSONValue(v) {
    if (typeof v === "string" && v.startsWith("$id:")) {
      const c = this.clients.get(v.slice(4));
      if (!c || !c.state.id) throw new Error(`unknown or unconnected client in ${v}`);
      return c.state.id;
    }
    if (Array.isArray(v)) return v.map((x) => this.fromJSONValue(x));
    if (v && typeof v === "object") {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(v.$bin, "base64");
      const out = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.fromJSONValue(x);
      return out;
    }
    return v;
  }

  matches(actual, pattern) {
    if (pattern === null || typeof pattern !== "object") return actual === pattern;
    if (Array.isArray(pattern)) {
      if (!Array.isArray(actual)) return false;
      return pattern.every((p) => actual.some((a) => this.matches(a, p)));
    }
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    return Object.keys(pattern).every((k) => this.matches(actual[k], pattern[k]));
  }

  client(name) {
    const c = this.clients.get(name);
    if (!c) throw new Error(`unknown client ${JSON.stringify(name)}`);
    return c;
  }

  create(spec) {
    if (!spec.name) throw new Error("client without name");
    if (this.clients.has(spec.name)) throw new Error(`duplicate client ${spec.name}`);
    const state = {
      id: "",
      connected: false,
      connectError: null,
      transportAtOpen: "",
      pings: 0,
      transport: "",
      upgraded: false,
      disconnectReason: "",
      events: [],
    };
    this.clients.set(spec.name, { spec, state, socket: null, waiters: new Set() });
  }

  notify(c) {
    for (const w of c.waiters) w();
  }

  /** until polls cond (also on every received event) until it holds. */
  until(c, cond, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let ok = false;
        try {
          ok = cond();
        } catch (err) {
          finish(err);
          return;
        }
        if (ok) finish(null);
      };
      const timer = setTimeout(() => finish(new Error(`timeout after ${timeoutMs}ms waiting for ${what}`)), timeoutMs);
      const poll = setInterval(check, 50);
      const finish = (err) => {
        clearTimeout(timer);
        clearInterval(poll);
        c.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      c.waiters.add(check);
      check();
    });
  }

  async connect(name, timeoutMs) {
    const c = this.client(name);
    if (c.socket) throw new Error(`client ${name} already connected`);
    const spec = c.spec;
    const base = (spec.url || this.scenario.url || "").replace(/\/+$/, "");
    if (!base) throw new Error(`client ${name}: no url`);
    const nsp = spec.namespace && spec.namespace !== "/" ? spec.namespace : "";
    const opts = {
      forceNew: true,
      reconnection: false,
      timeout: timeoutMs,
      upgrade: spec.upgrade !== false,
    };
    if (spec.transports) opts.transports = spec.transports;
    if (spec.auth) opts.auth = this.fromJSONValue(spec.auth);
    if (spec.query) opts.query = spec.query;
    const socket = io(base + nsp, opts);
    c.socket = socket;
    const st = c.state;
    const acks = Object.assign({ "ping-room": "id" }, spec.acks || {});

    socket.io.on("ping", () => {
      st.pings++;
    });
    socket.io.on("open", () => {
      const engine = socket.io.engine;
      st.transport = engine.transport.name;
      if (!st.transportAtOpen) st.transportAtOpen = st.transport;
      engine.on("upgrade", (t) => {
        st.transport = t.name;
        st.upgraded = true;
        this.notify(c);
      });
    });
    socket.on("connect", () => {
      st.id = socket.id;
      st.connected = true;
      st.transport = socket.io.engine.transport.name;
      this.notify(c);
    });
    socket.on("connect_error", (err) => {
      st.connectError = { message: err.message, data: toJSONValue(err.data === undefined ? null : err.data) };
      this.notify(c);
    });
    socket.on("disconnect", (reason) => {
      st.connected = false;
      st.disconnectReason = reason;
      this.notify(c);
    });
    socket.onAny((event, ...args) => {
      let ack = null;
      if (args.length > 0 && typeof args[args.length - 1] === "function") ack = args.pop();
      if (st.events.length < MAX_EVENTS) st.events.push({ event, args: args.map(toJSONValue) });
      if (ack && acks[event] !== undefined) {
        const mode = acks[event];
        if (mode === "echo") ack(...args);
        else if (mode === "id") ack(socket.id);
        else if (mode && typeof mode === "object" && "value" in mode) ack(this.fromJSONValue(mode.value));
      }
      this.notify(c);
    });

    await this.until(c, () => st.connected || st.connectError !== null, timeoutMs, `${name} to connect`);
  }

  async runStep(step, i) {
    const timeoutMs = step.timeoutMs || this.defaultTimeout;
    if (step.connect) return this.connect(step.connect, timeoutMs);
    if (step.disconnect) {
      const c = this.client(step.disconnect);
      if (c.socket) c.socket.disconnect();
      return;
    }
    if (step.quietMs) return sleep(step.quietMs);
    if (step.mark) {
      process.stdout.write(JSON.stringify({ type: "mark", name: step.mark }) + "\n");
      return;
    }
    const c = this.client(step.client);
    if (step.waitUpgrade) {
      return this.until(c, () => c.socket && c.socket.io.engine && c.socket.io.engine.transport.name === "websocket" && c.state.upgraded, timeoutMs, `${step.client} to upgrade`);
    }
    if (step.waitDisconnect) {
      return this.until(c, () => c.state.disconnectReason !== "", timeoutMs, `${step.client} to be disconnected`);
    }
    if (step.wait) {
      const count = step.count || 1;
      const pattern = step.match === undefined ? undefined : this.fromJSONValue(step.match);
      const n = () =>
        c.state.events.filter((e) => e.event === step.wait && (pattern === undefined || this.matches(e.args[0], toJSONValue(pattern)))).length;
      return this.until(c, () => n() >= count, timeoutMs, `${step.client} to receive ${count} x ${JSON.stringify(step.wait)}`);
    }
    if (step.emit) {
      if (!c.socket || !c.state.connected) throw new Error(`client ${step.client} is not connected`);
      const args = this.fromJSONValue(step.args || []);
      if (!step.ack) {
        c.socket.emit(step.emit, ...args);
        return;
      }
      const deadline = Date.now() + timeoutMs;
      const pattern = step.until === undefined ? undefined : toJSONValue(this.fromJSONValue(step.until));
      const key = step.save || `step${i}`;
      const neverMatched = () =>
        new Error(`timeout after ${timeoutMs}ms: ack of ${JSON.stringify(step.emit)} never matched ${JSON.stringify(step.until)}; last ack ${JSON.stringify(this.results[key])}`);
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) throw neverMatched();
        const resp = await new Promise((resolve, reject) => {
          c.socket.timeout(left).emit(step.emit, ...args, (err, ...ackArgs) => {
            if (!err) resolve(ackArgs.map(toJSONValue));
            else if (pattern !== undefined && key in this.results) reject(neverMatched());
            else reject(new Error(`no ack for ${JSON.stringify(step.emit)} from ${step.client} within ${left}ms`));
          });
        });
        this.results[key] = resp;
        if (pattern === undefined || this.matches(resp[0], pattern)) return;
        await sleep(100);
      }
    }
    throw new Error(`step ${i}: nothing to do in ${JSON.stringify(step)}`);
  }

  async run() {
    const clients = this.scenario.clients || [];
    for (const spec of clients) this.create(spec);
    for (const spec of clients) {
      if (!spec.lazy) await this.connect(spec.name, this.defaultTimeout);
    }
    const steps = this.scenario.steps || [];
    for (let i = 0; i < steps.length; i++) {
      try {
        await this.runStep(steps[i], i);
      } catch (err) {
        err.step = i;
        throw err;
      }
    }
  }

  report(err) {
    const clients = {};
    for (const [name, c] of this.clients) clients[name] = c.state;
    return {
      type: "result",
      ok: !err,
      error: err ? err.message : "",
      failedStep: err && err.step !== undefined ? err.step : -1,
      clients,
      results: this.results,
    };
  }

  close() {
    for (const c of this.clients.values()) if (c.socket) c.socket.disconnect();
  }
}

async function main() {
  let driver = null;
  let failure = null;
  try {
    const scenario = await readScenario();
    driver = new Driver(scenario);
    await driver.run();
  } catch (err) {
    failure = err;
  }
  const out = driver ? driver.report(failure) : { type: "result", ok: false, error: failure.message, failedStep: -1, clients: {}, results: {} };
  const line = JSON.stringify(out) + "\n";
  if (driver) driver.close();
  process.stdout.write(line, () => process.exit(out.ok ? 0 : 1));
}

main();
