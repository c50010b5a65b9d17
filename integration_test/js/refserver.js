"use strict";
/*
 * refserver.js: the Node.js reference node of the sio cross-language tests.
 *
 * It is a plain socket.io 4 server that implements the same contract as the
 * Go chat node (cmd/sioserver), so the Go integration tests can run against
 * either one (SIO_TEST_TARGET=ref) and Go and Node.js nodes can share one
 * Redis cluster (@socket.io/redis-adapter 8, classic pub/sub adapter).
 *
 * Configuration (environment variables, same names as cmd/sioserver):
 *   SIO_ADDR             listen address, "host:port" or ":port" (default ":3000")
 *   SIO_REDIS_URL        redis://... ; empty means the in-memory adapter
 *   SIO_REDIS_PREFIX     adapter key (default "socket.io")
 *   SIO_NODE_ID          node id reported by whoami (default hostname)
 *   SIO_PING_INTERVAL    Go duration (default 25s)
 *   SIO_PING_TIMEOUT     Go duration (default 20s)
 *   SIO_ALLOWED_ORIGINS  comma list, "*" or empty = any origin
 *   SIO_DRAIN_TIMEOUT    Go duration (default 10s): forced exit after SIGTERM
 * HTTP: /socket.io/ (Socket.IO), /healthz and /readyz (200 "ok").
 * SIGTERM/SIGINT: io.close() (every socket is disconnected with the server
 * side reason "server shutting down"), then the Redis clients are closed.
 *
 * Event contract on namespace "/" (identical on the Go node):
 *   join (room, ack)         join; ack {"ok":true,"room":room}; a room that is
 *                            not a string, empty or longer than 128 bytes acks
 *                            {"ok":false,"error":"..."}
 *   leave (room, ack)        leave; ack {"ok":true,"room":room}
 *   chat message (msg)       io.emit("chat message", msg)
 *   room message (room, msg[, ack])
 *                            io.to(room).emit("room message",
 *                            {"room":room,"from":socket.id,"msg":msg});
 *                            ack {"ok":true}
 *   echo (payload, ack)      ack(payload) (binary preserved)
 *   whoami (ack)             ack {"node":<node id>,"id":socket.id}
 *
 * Test helpers (the Go node must offer the same ones in its test mode):
 *   connection middleware    auth {"reject":"<message>"} (a non-empty string)
 *                            is refused: connect_error with message <message>
 *                            and data {"code":"REJECTED"}
 *   socket.data              {"node":<node id>} for every socket on "/"
 *   ask-ack (x, ack)         socket.timeout(5000).emitWithAck("question", x);
 *                            ack {"ok":true,"answer":<client's first ack arg>}
 *                            or {"ok":false,"error":"..."}
 *   room-ack (room, ack)     io.to(room).except(socket.id).timeout(2000)
 *                            .emitWithAck("ping-room"); ack
 *                            {"ok":true,"responses":[...]} or {"ok":false,...}
 *   fetch-sockets ([room,] ack)
 *                            io[.in(room)].fetchSockets(); ack {"ok":true,
 *                            "sockets":[{"id","rooms":[...],"data"}...]}
 *   server-side-emit (event, ...args, ack)
 *                            io.serverSideEmitWithAck(event, ...args); ack
 *                            {"ok":true,"responses":[...]} or {"ok":false,...}
 *   sockets-join (room, targetRoom[, ack])
 *                            io.in(room).socketsJoin(targetRoom); ack {"ok":true}
 *   announce (arg[, ack])    io.serverSideEmit("announce", {"from":<node id>,
 *                            "arg":arg}); ack {"ok":true}
 * Server-side (serverSideEmit) handlers:
 *   "ping-from-peer" (arg, cb)  cb({"node":<node id>,"arg":arg})
 *   "announce" (m)              io.local.emit("announcement",
 *                               {"node":<node id>,"from":m.from,"arg":m.arg})
 * Namespace "/custom":
 *   echo (payload, ack)      ack(payload)
 */

const http = require("node:http");
const os = require("node:os");
const { Server } = require("socket.io");

const MAX_ROOM_BYTES = 128;

/**
 * parseDuration parses a Go duration string ("300ms", "1.5s", "1m30s") into
 * milliseconds; a bare number is taken as milliseconds.
 */
function parseDuration(value, fallbackMs, name) {
  if (value === undefined || value === "") return fallbackMs;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const units = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  let match;
  while ((match = re.exec(value)) !== null) {
    total += Number(match[1]) * units[match[2]];
    consumed = re.lastIndex;
  }
  if (consumed !== value.length || consumed === 0) {
    throw new Error(`${name}: invalid duration ${JSON.stringify(value)}`);
  }
  return total;
}

/** parseAddr splits "host:port", ":port" or "[v6]:port". */
function parseAddr(addr) {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`SIO_ADDR: invalid address ${JSON.stringify(addr)}`);
  const host = m[1] || m[2] || undefined;
  return { host, port: Number(m[3]) };
}

const env = process.env;
const config = {
  addr: parseAddr(env.SIO_ADDR || ":3000"),
  redisURL: env.SIO_REDIS_URL || "",
  prefix: env.SIO_REDIS_PREFIX || "socket.io",
  nodeID: env.SIO_NODE_ID || os.hostname(),
  pingInterval: parseDuration(env.SIO_PING_INTERVAL, 25000, "SIO_PING_INTERVAL"),
  pingTimeout: parseDuration(env.SIO_PING_TIMEOUT, 20000, "SIO_PING_TIMEOUT"),
  drainTimeout: parseDuration(env.SIO_DRAIN_TIMEOUT, 10000, "SIO_DRAIN_TIMEOUT"),
  origins: (env.SIO_ALLOWED_ORIGINS || "*").split(",").map((s) => s.trim()).filter(Boolean),
};

function log(...args) {
  console.error(`[refserver ${config.nodeID}]`, ...args);
}

/** splitAck removes a trailing ack callback from args (noop when absent). */
function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, () => {}];
}

/** roomError returns why room is not a valid room name, or "" when it is. */
function roomError(room) {
  if (typeof room !== "string" || room === "") return "room must be a non-empty string";
  if (Buffer.byteLength(room, "utf8") > MAX_ROOM_BYTES) {
    return `room name longer than ${MAX_ROOM_BYTES} bytes`;
  }
  return "";
}

function errMessage(err) {
  return err && err.message ? err.message : String(err);
}

function registerMain(io) {
  const nsp = io.of("/");
  const node = config.nodeID;

  nsp.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    if (typeof auth.reject === "string" && auth.reject !== "") {
      const err = new Error(auth.reject);
      err.data = { code: "REJECTED" };
      next(err);
      return;
    }
    next();
  });

  // serverSideEmit handlers (invoked by other nodes of the cluster).
  io.on("ping-from-peer", (...raw) => {
    const [args, cb] = splitAck(raw);
    cb({ node, arg: args[0] === undefined ? null : args[0] });
  });
  io.on("announce", (m) => {
    const msg = m && typeof m === "object" ? m : {};
    io.local.emit("announcement", { node, from: msg.from, arg: msg.arg });
  });

  nsp.on("connection", (socket) => {
    socket.data = { node };

    socket.on("join", (...raw) => {
      const [[room], ack] = splitAck(raw);
      const bad = roomError(room);
      if (bad) return ack({ ok: false, error: bad });
      socket.join(room);
      ack({ ok: true, room });
    });

    socket.on("leave", (...raw) => {
      const [[room], ack] = splitAck(raw);
      const bad = roomError(room);
      if (bad) return ack({ ok: false, error: bad });
      socket.leave(room);
      ack({ ok: true, room });
    });

    socket.on("chat message", (...raw) => {
      const [[msg]] = splitAck(raw);
      io.emit("chat message", msg === undefined ? null : msg);
    });

    socket.on("room message", (...raw) => {
      const [[room, msg], ack] = splitAck(raw);
      const bad = roomError(room);
      if (bad) return ack({ ok: false, error: bad });
      io.to(room).emit("room message", { room, from: socket.id, msg: msg === undefined ? null : msg });
      ack({ ok: true });
    });

    socket.on("echo", (...raw) => {
      const [args, ack] = splitAck(raw);
      ack(...args.slice(0, 1));
    });

    socket.on("whoami", (...raw) => {
      const [, ack] = splitAck(raw);
      ack({ node, id: socket.id });
    });

    // ---- test helpers ----

    socket.on("ask-ack", async (...raw) => {
      const [[x], ack] = splitAck(raw);
      try {
        const answer = await socket.timeout(5000).emitWithAck("question", x === undefined ? null : x);
        ack({ ok: true, answer: answer === undefined ? null : answer });
      } catch (err) {
        ack({ ok: false, error: errMessage(err) });
      }
    });

    socket.on("room-ack", async (...raw) => {
      const [[room], ack] = splitAck(raw);
      const bad = roomError(room);
      if (bad) return ack({ ok: false, error: bad });
      try {
        const responses = await io.to(room).except(socket.id).timeout(2000).emitWithAck("ping-room");
        ack({ ok: true, responses });
      } catch (err) {
        ack({ ok: false, error: errMessage(err) });
      }
    });

    socket.on("fetch-sockets", async (...raw) => {
      const [[room], ack] = splitAck(raw);
      try {
        const target = typeof room === "string" && room !== "" ? io.in(room) : io;
        const sockets = await target.fetchSockets();
        ack({
          ok: true,
          sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data === undefined ? null : s.data })),
        });
      } catch (err) {
        ack({ ok: false, error: errMessage(err) });
      }
    });

    socket.on("server-side-emit", async (...raw) => {
      const [args, ack] = splitAck(raw);
      if (typeof args[0] !== "string" || args[0] === "") {
        return ack({ ok: false, error: "event must be a non-empty string" });
      }
      try {
        const responses = await io.serverSideEmitWithAck(...args);
        ack({ ok: true, responses });
      } catch (err) {
        ack({ ok: false, error: errMessage(err) });
      }
    });

    socket.on("sockets-join", (...raw) => {
      const [[room, target], ack] = splitAck(raw);
      const bad = roomError(room) || roomError(target);
      if (bad) return ack({ ok: false, error: bad });
      io.in(room).socketsJoin(target);
      ack({ ok: true });
    });

    socket.on("announce", (...raw) => {
      const [[arg], ack] = splitAck(raw);
      io.serverSideEmit("announce", { from: node, arg: arg === undefined ? null : arg });
      ack({ ok: true });
    });
  });
}

function registerCustom(io) {
  io.of("/custom").on("connection", (socket) => {
    socket.on("echo", (...raw) => {
      const [args, ack] = splitAck(raw);
      ack(...args.slice(0, 1));
    });
  });
}

/** waitSubscribed resolves once the adapter of nsp is subscribed in Redis. */
async function waitSubscribed(nsp) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const count = await nsp.adapter.serverCount();
    if (count >= 1) return;
    if (Date.now() > deadline) throw new Error(`adapter of ${nsp.name} not subscribed after 10s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  const httpServer = http.createServer((req, res) => {
    const path = (req.url || "").split("?")[0];
    if (path === "/healthz" || path === "/readyz") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok");
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found");
  });

  const anyOrigin = config.origins.length === 0 || config.origins.includes("*");
  const io = new Server(httpServer, {
    pingInterval: config.pingInterval,
    pingTimeout: config.pingTimeout,
    cors: { origin: anyOrigin ? "*" : config.origins },
  });

  const redisClients = [];
  if (config.redisURL) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: config.redisURL });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) {
      c.on("error", (err) => log("redis error:", errMessage(err)));
      redisClients.push(c);
    }
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: config.prefix, requestsTimeout: 3000 }));
  }

  registerMain(io);
  registerCustom(io);
  if (config.redisURL) {
    await Promise.all([waitSubscribed(io.of("/")), waitSubscribed(io.of("/custom"))]);
  }

  let closing = false;
  const shutdown = (signal) => {
    if (closing) return;
    closing = true;
    log(`${signal}: draining`);
    const force = setTimeout(() => {
      log("drain timeout, exiting");
      process.exit(1);
    }, config.drainTimeout);
    force.unref();
    io.close(async () => {
      await Promise.allSettled(redisClients.map((c) => c.quit()));
      log("closed");
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));

  httpServer.on("error", (err) => {
    log("http server error:", errMessage(err));
    process.exit(1);
  });
  httpServer.listen(config.addr.port, config.addr.host, () => {
    const a = httpServer.address();
    log(`listening on ${a.address}:${a.port} (redis: ${config.redisURL ? config.prefix : "off"})`);
  });
}

main().catch((err) => {
  log("fatal:", errMessage(err));
  process.exit(1);
});
