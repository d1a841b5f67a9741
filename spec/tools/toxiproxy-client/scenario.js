// Drives a toxiproxy server with the third-party npm client
// (toxiproxy-node-client) and measures what a kernel TCP client sees
// through its proxies. spec/tun/toxiproxy_spec.lua runs it inside its
// namespace and asserts on the one JSON line it prints.
//
//   node scenario.js NAME API_URL PROXY_HOST ECHO_UPSTREAM SOURCE_UPSTREAM SOURCE_BYTES
//
// ECHO_UPSTREAM is a kernel echo server, SOURCE_UPSTREAM a kernel server
// that sends SOURCE_BYTES bytes and closes. Every wait is bounded.
"use strict";
const net = require("net");
const { execFile } = require("child_process");
const path = require("path");
let Toxiproxy;
try {
  Toxiproxy = require(path.join(__dirname, "node_modules", "toxiproxy-node-client")).Toxiproxy;
} catch (e) {
  console.log(JSON.stringify({ error: "toxiproxy-node-client is not installed: run scripts/deps (npm ci in " +
    __dirname + "): " + e.message }));
  process.exit(2);
}

const [name, apiUrl, proxyHost, echoUp, sourceUp, sourceBytesArg] = process.argv.slice(2);
const sourceBytes = Number(sourceBytesArg);
const toxiproxy = new Toxiproxy(apiUrl);
const now = () => Number(process.hrtime.bigint()) / 1e6;
let nextPort = 21000;

function bounded(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error("timed out: " + what)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

async function proxyTo(upstream) {
  const port = nextPort++;
  return toxiproxy.createProxy({ name: "p" + port, listen: `${proxyHost}:${port}`, upstream });
}

function hostPort(listen) {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i), port: Number(listen.slice(i + 1)) };
}

// A connection with a line-echo round trip (ping) and the time it ended.
function open(listen) {
  return bounded(new Promise((resolve, reject) => {
    const sock = net.connect(hostPort(listen));
    const c = { sock, buf: "", waiters: [], ended: null, error: null };
    sock.setNoDelay(true);
    sock.on("data", (d) => {
      c.buf += d.toString("latin1");
      const w = c.waiters.shift();
      if (w) w();
    });
    sock.on("end", () => { c.ended = c.ended || now(); });
    sock.on("close", () => { c.ended = c.ended || now(); for (const w of c.waiters) w(); c.waiters = []; });
    sock.on("error", (e) => { c.error = e.code || e.message; });
    sock.once("connect", () => resolve(c));
    sock.once("error", reject);
  }), 5000, "connect " + listen);
}

async function ping(c, tag) {
  const line = tag + "\n";
  const t0 = now();
  c.sock.write(line);
  while (!c.buf.includes(line)) {
    if (c.ended) throw new Error("connection ended before the echo of " + tag);
    await bounded(new Promise((r) => c.waiters.push(r)), 10000, "echo of " + tag);
  }
  c.buf = c.buf.replace(line, "");
  return now() - t0;
}

async function median(c, tag, n) {
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await ping(c, `${tag}${i}`));
  xs.sort((a, b) => a - b);
  return xs[Math.floor(n / 2)];
}

// Connects (a kernel client, drain.py), optionally writes `send`, and
// reads until the end: bytes, elapsed ms from connect to the end, how it
// ended ("end" or an errno name such as "ECONNRESET").
function drain(listen, send) {
  const { host, port } = hostPort(listen);
  const args = [path.join(__dirname, "drain.py"), host, String(port)];
  if (send) args.push(send);
  return new Promise((resolve, reject) => {
    execFile("python3", args, { timeout: 40000 }, (err, stdout, stderr) => {
      if (err) reject(new Error("drain.py: " + err.message + " " + stderr));
      else resolve(JSON.parse(stdout));
    });
  });
}

const scenarios = {
  // The API itself, as a client sees it.
  async api() {
    const out = {};
    out.version = await toxiproxy.getVersion();
    const p = await proxyTo(echoUp);
    out.created = p.toJson();
    const t = await p.addToxic({ type: "latency", stream: "downstream", attributes: { latency: 100, jitter: 10 } });
    out.toxic = t.toJson();
    const t2 = await t.update({ attributes: { latency: 200 }, toxicity: 0.5 });
    out.updated = t2.toJson();
    out.fetched = (await p.getToxic("latency_downstream")).toJson();
    out.all = Object.keys(await toxiproxy.getAll());
    const got = await toxiproxy.get(p.name);
    out.got = got.toJson();
    try { await p.addToxic({ type: "latency", attributes: { latency: 1 } }); out.dup = "accepted"; } catch (e) {
      out.dup = e.message;
    }
    try { await p.addToxic({ type: "no_such_toxic" }); out.badtype = "accepted"; } catch (e) { out.badtype = e.message; }
    try { await toxiproxy.get("no_such_proxy"); out.missing = "found"; } catch (e) { out.missing = e.message; }
    const disabled = await p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
    out.disabled = disabled.toJson();
    await toxiproxy.reset();
    out.after_reset = (await toxiproxy.get(p.name)).toJson();
    const port = nextPort++;
    const pop = await toxiproxy.populate([{ name: "pop", listen: `${proxyHost}:${port}`, upstream: echoUp }]);
    out.populated = Object.keys(pop);
    await t2.remove().catch(() => {});
    await p.remove();
    out.after_remove = Object.keys(await toxiproxy.getAll());
    return out;
  },

  // Latency added, changed and removed on one open connection.
  async latency() {
    const p = await proxyTo(echoUp);
    const c = await open(p.listen);
    const out = { base: await median(c, "a", 5) };
    const t = await p.addToxic({ type: "latency", stream: "downstream", attributes: { latency: 300 } });
    out.with300 = await median(c, "b", 3);
    await t.update({ attributes: { latency: 600 } });
    out.with600 = await median(c, "c", 3);
    await t.remove();
    out.removed = await median(c, "d", 5);
    const up = await p.addToxic({ type: "latency", stream: "upstream", attributes: { latency: 200 } });
    out.upstream200 = await median(c, "e", 3);
    await up.remove();
    c.sock.end();
    await p.remove();
    return out;
  },

  // A bandwidth limit on the downstream of a source of SOURCE_BYTES.
  async bandwidth() {
    const p = await proxyTo(sourceUp);
    const base = await drain(p.listen);
    await p.addToxic({ type: "bandwidth", stream: "downstream", attributes: { rate: 100 } });
    const limited = await drain(p.listen);
    await p.remove();
    return { base, limited, rate_kbs: 100 };
  },

  // No data, then the connection closes after the timeout.
  async timeout() {
    const p = await proxyTo(echoUp);
    await p.addToxic({ type: "timeout", stream: "downstream", attributes: { timeout: 1000 } });
    const r = await drain(p.listen, "hello\n");
    // timeout 0: nothing, until the toxic is removed (which closes).
    await p.getToxic("timeout_downstream").then((t) => t.update({ attributes: { timeout: 0 } }));
    const c = await open(p.listen);
    c.sock.write("hello\n");
    await new Promise((res) => setTimeout(res, 1500));
    const held = { ended: c.ended !== null, bytes: c.buf.length };
    const t0 = now();
    await (await p.getToxic("timeout_downstream")).remove();
    await bounded(new Promise((res) => { if (c.ended) res(); else c.sock.on("close", res); }), 5000, "close on removal");
    await p.remove();
    return { timeout: r, forever: held, closed_after_removal_ms: c.ended - t0 };
  },

  // The peer is reset after the timeout, counted from the first data.
  async reset_peer() {
    const p = await proxyTo(echoUp);
    await p.addToxic({ type: "reset_peer", stream: "upstream", attributes: { timeout: 500 } });
    const r = await drain(p.listen, "hello\n");
    await p.remove();
    return r;
  },

  // Exactly `bytes` bytes, then the end.
  async limit_data() {
    const p = await proxyTo(sourceUp);
    await p.addToxic({ type: "limit_data", stream: "downstream", attributes: { bytes: 10000 } });
    const r = await drain(p.listen);
    await p.remove();
    return r;
  },

  // The end of the stream is held back by slow_close; slicer keeps bytes.
  async slow_close() {
    const p = await proxyTo(sourceUp);
    await p.addToxic({ type: "slow_close", stream: "downstream", attributes: { delay: 1000 } });
    await p.addToxic({ type: "slicer", stream: "downstream",
      attributes: { average_size: 1000, size_variation: 200, delay: 100 } });
    const r = await drain(p.listen);
    await p.remove();
    return r;
  },

  // enabled: false closes the open connection and the listener.
  async disable() {
    const p = await proxyTo(echoUp);
    const c = await open(p.listen);
    const rtt = await ping(c, "x");
    await p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
    await bounded(new Promise((res) => { if (c.ended) res(); else c.sock.on("close", res); }), 5000, "close on disable");
    let refused;
    try { const c2 = await open(p.listen); c2.sock.destroy(); refused = "connected"; } catch (e) { refused = e.code; }
    await p.update({ enabled: true, listen: p.listen, upstream: p.upstream });
    const c3 = await open(p.listen);
    const rtt3 = await ping(c3, "y");
    c3.sock.end();
    await p.remove();
    return { rtt, closed: c.ended !== null, refused, reenabled: rtt3 > 0 };
  },

  // tcplua's own toxic: a fault policy on the proxy's segments.
  async tcplua() {
    const p = await proxyTo(sourceUp);
    await p.addToxic({ type: "tcplua", stream: "downstream", name: "cut",
      attributes: { policy: "reset_after", args: [{ bytes: 20000 }] } });
    const cut = await drain(p.listen);
    await (await p.getToxic("cut")).remove();
    const e = await proxyTo(echoUp);
    const c = await open(e.listen);
    const base = await median(c, "a", 5);
    await e.addToxic({ type: "tcplua", stream: "downstream", name: "slow", attributes: { policy: "delay", args: [300] } });
    const delayed = await median(c, "b", 3);
    c.sock.end();
    await p.remove();
    await e.remove();
    return { cut, base, delayed };
  },
};

(async () => {
  const fn = scenarios[name];
  if (!fn) throw new Error("no scenario " + name);
  const out = await bounded(fn(), 60000, "scenario " + name);
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack || e) }));
  process.exit(1);
});
