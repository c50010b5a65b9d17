"use strict";
/*
 * topology/driver.js: interactive socket.io-client driver for
 * integration_test/topology_test.go.
 *
 * Unlike js/client.js (a scenario run to completion), this process stays up
 * while the Go test kills and drains nodes, and its clients RECONNECT like a
 * real application: reconnection on, and on every (re)connect the client
 * asks whoami and re-joins its rooms (as the chat page does).
 *
 * Each client can bind its own loopback source address (localAddress): nginx
 * hashes the client address ("hash $remote_addr consistent"), so clients
 * bound to different 127.0.0.x addresses are sticky to different nodes,
 * exactly as clients on different machines would be.
 *
 * Protocol: one JSON command per stdin line, {"id": n, "cmd": ..., ...};
 * one reply per command on stdout, {"id": n, "ok": true, "result": ...} or
 * {"id": n, "ok": false, "error": "..."}. Commands (timeoutMs bounds each):
 *   open   {name, url, transports?, upgrade?, localAddress?, rooms?}
 *          -> {id, node, transport} once connected, whoami'd and joined
 *   probe  {url, addresses: [...]}  -> {"<address>": "<node>", ...}: one
 *          short-lived polling client per address asks whoami
 *   emit   {name, event, args, ack?} -> the ack's arguments (ack: true)
 *   wait   {name, event, match}      -> args of the first received event
 *          whose first argument contains match (subset match)
 *   waitSession {name, after}        -> state, once the client has completed
 *          a session (connect + whoami + joins) numbered > after
 *   waitUpgrade {name}               -> state, once on websocket
 *   state  {name} -> {id, node, connected, transport, upgraded, sessions,
 *          disconnects: [reasons], connectErrors}
 *   close  {name}
 * The process exits when stdin ends.
 */

const http = require("http");
const readline = require("readline");
const { io } = require("socket.io-client");

const MAX_EVENTS = 1000; // per client; the oldest are dropped first
const MAX_REASONS = 100;

const clients = new Map();

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function matches(actual, pattern) {
  if (pattern === null || typeof pattern !== "object") return actual === pattern;
  if (Array.isArray(pattern)) {
    return Array.isArray(actual) && pattern.every((p) => actual.some((a) => matches(a, p)));
  }
  if (actual === null || typeof actual !== "object") return false;
  return Object.keys(pattern).every((k) => matches(actual[k], pattern[k]));
}

/** until resolves once cond() holds, checking on every notify and every 50 ms. */
function until(c, cond, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      c.waiters.delete(check);
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      try {
        if (cond()) finish(null);
      } catch (err) {
        finish(err);
      }
    };
    const timer = setTimeout(() => finish(new Error(`timeout after ${timeoutMs}ms waiting for ${what}`)), timeoutMs);
    const poll = setInterval(check, 50);
    c.waiters.add(check);
    check();
  });
}

function notify(c) {
  for (const w of [...c.waiters]) w();
}

function emitAck(socket, timeoutMs, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, ...args, (err, ...res) => {
      if (err) reject(new Error(`no ack for ${JSON.stringify(event)} within ${timeoutMs}ms`));
      else resolve(res);
    });
  });
}

function publicState(c) {
  const s = c.state;
  return {
    id: s.id,
    node: s.node,
    connected: s.connected,
    transport: s.transport,
    upgraded: s.upgraded,
    sessions: s.sessions,
    disconnects: s.disconnects,
    connectErrors: s.connectErrors,
  };
}

function makeSocket(msg, timeoutMs) {
  const opts = {
    forceNew: true,
    reconnection: msg.reconnect !== false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
    timeout: timeoutMs,
    upgrade: msg.upgrade !== false,
  };
  if (msg.transports) opts.transports = msg.transports;
  if (msg.localAddress) {
    // The agent is used by the polling transport (xmlhttprequest-ssl) and by
    // the WebSocket handshake (ws); both then connect from localAddress.
    opts.agent = new http.Agent({ localAddress: msg.localAddress, keepAlive: false });
    opts.localAddress = msg.localAddress;
  }
  return io(msg.url, opts);
}

async function open(msg, timeoutMs) {
  if (!msg.name) throw new Error("open: name required");
  if (clients.has(msg.name)) throw new Error(`open: client ${msg.name} exists`);
  const rooms = msg.rooms || [];
  const socket = makeSocket(msg, timeoutMs);
  const c = {
    socket,
    waiters: new Set(),
    events: [],
    state: { id: "", node: "", connected: false, transport: "", upgraded: false, sessions: 0, disconnects: [], connectErrors: 0 },
  };
  clients.set(msg.name, c);
  const st = c.state;
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    st.transport = engine.transport.name;
    engine.on("upgrade", (t) => {
      st.transport = t.name;
      st.upgraded = true;
      notify(c);
    });
  });
  socket.on("connect", async () => {
    st.connected = true;
    st.id = socket.id;
    st.transport = socket.io.engine.transport.name;
    // A session counts once whoami answered and every room is joined, so
    // that a test waiting for it can rely on room delivery.
    try {
      const [me] = await emitAck(socket, timeoutMs, "whoami");
      for (const room of rooms) {
        const [res] = await emitAck(socket, timeoutMs, "join", room);
        if (!res || !res.ok) throw new Error(`join ${room}: ${JSON.stringify(res)}`);
      }
      if (socket.id !== st.id || !socket.connected) return; // a newer session took over
      st.node = me.node;
      st.sessions++;
    } catch (err) {
      st.lastError = err.message;
    }
    notify(c);
  });
  socket.on("connect_error", () => {
    st.connectErrors++;
    notify(c);
  });
  socket.on("disconnect", (reason) => {
    st.connected = false;
    if (st.disconnects.length < MAX_REASONS) st.disconnects.push(reason);
    notify(c);
  });
  socket.onAny((event, ...args) => {
    if (args.length > 0 && typeof args[args.length - 1] === "function") args.pop();
    c.events.push({ event, args });
    if (c.events.length > MAX_EVENTS) c.events.shift();
    notify(c);
  });
  try {
    await until(c, () => st.sessions >= 1, timeoutMs, `${msg.name} to connect (last error: ${st.lastError || "none"})`);
  } catch (err) {
    socket.disconnect();
    clients.delete(msg.name);
    throw err;
  }
  return { id: st.id, node: st.node, transport: st.transport };
}

async function probe(msg, timeoutMs) {
  const out = {};
  await Promise.all(
    (msg.addresses || []).map(async (addr) => {
      const socket = makeSocket({ url: msg.url, transports: ["polling"], upgrade: false, localAddress: addr, reconnect: false }, timeoutMs);
      try {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`probe ${addr}: no connect within ${timeoutMs}ms`)), timeoutMs);
          socket.on("connect", () => {
            clearTimeout(timer);
            resolve();
          });
          socket.on("connect_error", (err) => {
            clearTimeout(timer);
            reject(new Error(`probe ${addr}: ${err.message}`));
          });
        });
        const [me] = await emitAck(socket, timeoutMs, "whoami");
        out[addr] = me.node;
      } finally {
        socket.disconnect();
      }
    }),
  );
  return out;
}

function client(name) {
  const c = clients.get(name);
  if (!c) throw new Error(`unknown client ${JSON.stringify(name)}`);
  return c;
}

async function handle(msg) {
  const timeoutMs = msg.timeoutMs || 10000;
  switch (msg.cmd) {
    case "open":
      return open(msg, timeoutMs);
    case "probe":
      return probe(msg, timeoutMs);
    case "emit": {
      const c = client(msg.name);
      if (!c.socket.connected) throw new Error(`client ${msg.name} is not connected`);
      const args = msg.args || [];
      if (!msg.ack) {
        c.socket.emit(msg.event, ...args);
        return null;
      }
      return emitAck(c.socket, timeoutMs, msg.event, ...args);
    }
    case "wait": {
      const c = client(msg.name);
      let found = null;
      await until(
        c,
        () => {
          found = c.events.find((e) => e.event === msg.event && (msg.match === undefined || matches(e.args[0], msg.match)));
          return found !== undefined;
        },
        timeoutMs,
        `${msg.name} to receive ${JSON.stringify(msg.event)} matching ${JSON.stringify(msg.match)}`,
      );
      return found.args;
    }
    case "waitSession": {
      const c = client(msg.name);
      await until(c, () => c.state.sessions > (msg.after || 0) && c.state.connected, timeoutMs, `${msg.name} to start session ${(msg.after || 0) + 1}`);
      return publicState(c);
    }
    case "waitUpgrade": {
      const c = client(msg.name);
      await until(c, () => c.state.transport === "websocket", timeoutMs, `${msg.name} to upgrade to websocket`);
      return publicState(c);
    }
    case "state":
      return publicState(client(msg.name));
    case "close": {
      const c = client(msg.name);
      c.socket.disconnect();
      clients.delete(msg.name);
      return null;
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(msg.cmd)}`);
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (err) {
    send({ id: -1, ok: false, error: `invalid command JSON: ${err.message}` });
    return;
  }
  handle(msg).then(
    (result) => send({ id: msg.id, ok: true, result: result === undefined ? null : result }),
    (err) => send({ id: msg.id, ok: false, error: err.message }),
  );
});
rl.on("close", () => {
  for (const c of clients.values()) c.socket.disconnect();
  process.exit(0);
});
