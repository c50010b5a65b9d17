"use strict";
/*
 * topology/chat_browser.js: drives the chat page of cmd/sioserver in real
 * headless Chromium (playwright-core, system chromium) for
 * integration_test/topology_test.go.
 *
 * Input (JSON on stdin): {"url", "room", "screenshot", "executablePath",
 * "timeoutMs"}. Two pages, in separate browser contexts (no shared
 * cookies), open url, join room through the page's room form and exchange
 * one message each through the message form. The second page's screenshot
 * is written to screenshot.
 *
 * Both pages must end up on WebSocket (the page starts on polling and
 * upgrades through nginx).
 *
 * Output: one JSON line {"ok", "error", "status": [a, b], "items": [[...], [...]],
 * "transports": [a, b], "bundleLoaded": bool, "pageErrors": [...]}; exit
 * status 0 when ok.
 */

const { chromium } = require("playwright-core");

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function readInput() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (err) {
        reject(new Error(`invalid input JSON: ${err.message}`));
      }
    });
    process.stdin.on("error", reject);
  });
}

async function items(page) {
  return page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent));
}

async function main() {
  const input = await readInput();
  const timeout = input.timeoutMs || 15000;
  const out = { ok: false, error: "", status: [], items: [], transports: [], bundleLoaded: false, pageErrors: [] };
  let browser = null;
  try {
    browser = await chromium.launch({ executablePath: input.executablePath, args: ARGS, headless: true, timeout });
    const pages = [];
    for (let i = 0; i < 2; i++) {
      const ctx = await browser.newContext({ viewport: { width: 900, height: 520 } });
      const page = await ctx.newPage();
      page.setDefaultTimeout(timeout);
      page.on("pageerror", (err) => out.pageErrors.push(String(err)));
      page.on("response", (resp) => {
        if (resp.url().endsWith("/vendor/socket.io.min.js") && resp.ok()) out.bundleLoaded = true;
      });
      await page.goto(input.url, { waitUntil: "load" });
      await page.waitForFunction(() => /^connected to /.test(document.getElementById("status").textContent));
      pages.push(page);
    }
    for (const page of pages) {
      await page.fill("#room", input.room);
      await page.click("#join");
      await page.waitForFunction((room) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === "joined " + room), input.room);
    }
    const [a, b] = pages;
    const msgA = "hello from page A";
    const msgB = "hi A, page B here";
    await a.fill("#input", msgA);
    await a.click("#send");
    for (const page of pages) {
      await page.waitForFunction((t) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.endsWith(t)), msgA);
    }
    await b.fill("#input", msgB);
    await b.click("#send");
    for (const page of pages) {
      await page.waitForFunction((t) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.endsWith(t)), msgB);
    }
    // The page starts on polling; through nginx it must upgrade to WebSocket.
    for (const page of pages) {
      await page.waitForFunction(() => socket.io.engine && socket.io.engine.transport.name === "websocket");
      out.transports.push(await page.evaluate(() => socket.io.engine.transport.name));
    }
    for (const page of pages) {
      out.status.push(await page.textContent("#status"));
      out.items.push(await items(page));
    }
    await b.screenshot({ path: input.screenshot });
    out.ok = true;
  } catch (err) {
    out.error = err && err.message ? err.message : String(err);
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(out.ok ? 0 : 1));
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: err.message }) + "\n", () => process.exit(1));
});
