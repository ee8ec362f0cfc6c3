// The dashboard at /ui in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core): the page under its CSP, the live charts after
// traffic, the key browser's paging, the inspector's edit with If-Match,
// delete and flush, and the token prompt when authentication is on. Each
// view's screenshot is saved under e2e/screenshots/ (docs/dashboard.png in
// the README is a copy of one).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { startServer } from "../sdk/ts/test/server.mjs";

const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
// Playwright's bound on the launch and on each navigation and wait. It is
// generous because a busy CI machine (two cores, a load average of 12) can
// take tens of seconds to start Chromium or settle a page: a failure should
// mean the page never got there, not that the machine was slow.
const timeout = 60_000;
const shots = fileURLToPath(new URL("./screenshots/", import.meta.url));

let browser;
let profile;

before(async () => {
  await mkdir(shots, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), "memcached-http-ui-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    timeout,
    viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  browser.setDefaultTimeout(timeout);
});

after(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

// A page that records console messages, page errors, CSP violations (as the
// page itself sees them) and every URL it requests.
async function openPage() {
  const page = await browser.newPage();
  const log = [];
  const requests = [];
  page.on("console", (msg) => log.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => log.push(`pageerror: ${err.message}`));
  page.on("request", (req) => requests.push(req.url()));
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, log, requests };
}

/** Fails with the browser's console attached, which explains most failures. */
async function withPage(fn) {
  const p = await openPage();
  try {
    await fn(p);
  } catch (err) {
    err.message += `\nbrowser console:\n${p.log.join("\n")}`;
    throw err;
  } finally {
    await p.page.close();
  }
}

/** Calls the API from the test (not the page): the world changing under the dashboard. */
function client(baseUrl, token) {
  return async (method, path, body, headers = {}) => {
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    let data = body;
    if (body !== undefined && !(body instanceof Uint8Array)) {
      h["Content-Type"] = "application/json";
      data = JSON.stringify(body);
    } else if (body instanceof Uint8Array) {
      h["Content-Type"] = "application/octet-stream";
    }
    const res = await fetch(baseUrl + path, { method, headers: h, body: data });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
}

const keyPath = (ns, key) => `/v1/ns/${ns}/keys/${encodeURIComponent(key)}`;

// expected are the failed loads a test provokes on purpose (Chromium logs an
// API answer of 4xx as a console error of the fetch).
async function assertCleanConsole(page, log, expected = []) {
  const violations = await page.evaluate(() => window.__violations);
  assert.deepEqual(violations, [], "no CSP violations");
  const errors = log.filter((l) => /^(error|pageerror)/.test(l) || /Content Security Policy|Refused to/i.test(l))
    .filter((l) => !expected.some((re) => re.test(l)));
  assert.deepEqual(errors, [], "no console errors");
}

describe("the dashboard at /ui", () => {
  let server;
  let call;
  before(async () => {
    // A small memory limit, so the traffic below evicts.
    server = await startServer(["-memory-limit", String(16 << 20)]);
    call = client(server.baseUrl);
  });
  after(async () => {
    await server?.stop();
  });

  test("loads under its CSP with no console errors, and after traffic every chart draws", async () => {
    await withPage(async ({ page, log, requests }) => {
      await page.goto(`${server.baseUrl}/ui`);
      await page.waitForFunction(() => window.dashboard && window.dashboard.charts.items.data[0].length >= 1);
      // Traffic: writes of 100 KB values past the 16 MiB limit (evictions), hits and misses.
      const big = "x".repeat(100_000);
      const deadline = Date.now() + 60_000; // generous for a busy machine; the loop ends once every chart draws
      const charts = ["lookups", "ratio", "items", "memory", "evictions", "latency", "requests"];
      // The hits line's colour on the lookups chart's canvas: the series reach the canvas
      // (uPlot draws on an animation frame, so a busy machine may draw a round late).
      const strokedPixels = () => page.evaluate(() => {
        const c = document.querySelector("#chart-lookups canvas");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (Math.abs(d[i] - 0x1f) < 24 && Math.abs(d[i + 1] - 0x6f) < 24 && Math.abs(d[i + 2] - 0xeb) < 24 && d[i + 3] > 200) n++;
        }
        return n;
      });
      let drawn = [];
      let stroked = 0;
      for (let round = 0; Date.now() < deadline; round++) {
        await Promise.all(Array.from({ length: 40 }, (_, i) => call("PUT", keyPath("~", `load:${round}:${i}`), { value: big })));
        await Promise.all(Array.from({ length: 40 }, (_, i) => call("GET", keyPath("~", `load:${round}:${i % 20}`))));
        await Promise.all(Array.from({ length: 10 }, (_, i) => call("GET", keyPath("~", `missing:${round}:${i}`))));
        drawn = await page.evaluate((names) => names.filter((n) => window.dashboard.charts[n].nonEmpty()), charts);
        if (drawn.length === charts.length && (stroked = await strokedPixels()) > 20) break;
        await page.waitForTimeout(500);
      }
      assert.deepEqual(drawn, charts, "every chart has a series above zero");
      assert.ok(stroked > 20, `the hits series is drawn (${stroked} pixels of its colour)`);
      const series = await page.evaluate(() => window.dashboard.charts.requests.names);
      assert.ok(series.includes("set 200") && series.includes("get 404"), `requests by operation and status: ${series}`);
      await page.screenshot({ path: join(shots, "dashboard-charts.png") });

      const foreign = requests.filter((url) => !url.startsWith(server.baseUrl + "/") && !url.startsWith("data:"));
      assert.deepEqual(foreign, [], "every asset and call stays on the server");
      await assertCleanConsole(page, log);
    });
  });

  test("the key browser lists keys set through the API, page by page", async () => {
    for (let i = 0; i < 25; i++) {
      assert.equal((await call("PUT", keyPath("e2e", `user:${String(i).padStart(2, "0")}`), { value: { n: i }, time: 3600 })).status, 200);
    }
    await call("PUT", keyPath("e2e", "other"), { value: 1 });
    await withPage(async ({ page, log }) => {
      await page.goto(`${server.baseUrl}/ui`);
      await page.click("#tab-keys");
      await page.locator('#ns option[value="e2e"]').waitFor({ state: "attached" });
      await page.selectOption("#ns", "e2e");
      await page.fill("#prefix", "user:");
      await page.selectOption("#limit", "10");
      await page.click('#list-form button[type="submit"]');
      const seen = new Set();
      const pages = [];
      for (;;) {
        await page.waitForFunction((n) => {
          const b = window.dashboard.browser;
          return b.ns === "e2e" && b.page === n && /limit=10/.test(b.query) && /prefix=user%3A/.test(b.query) && (n === 0 || b.query.includes("cursor="));
        }, pages.length);
        const keys = await page.$$eval("#keys tbody tr", (rows) => rows.map((r) => r.dataset.key));
        assert.ok(keys.length <= 10, `a page holds at most 10 keys, not ${keys.length}`);
        for (const k of keys) {
          assert.ok(!seen.has(k), `${k} listed twice`);
          seen.add(k);
        }
        pages.push(keys);
        if (pages.length === 1) {
          const ttl = await page.locator("#keys tbody tr td.ttl").first().textContent();
          assert.match(ttl, /^(59m|1h 00m)/, `a TTL counting down from an hour: ${ttl}`);
          await page.screenshot({ path: join(shots, "dashboard-keys.png") });
        }
        if (await page.locator("#next-page").isDisabled()) break;
        if (pages.length === 1) {
          // A slow answer: until the second page arrives, the dashboard still
          // names the first page, whose rows are the ones on screen.
          let release;
          const held = new Promise((resolve) => (release = resolve));
          let asked;
          const askedFor = new Promise((resolve) => (asked = resolve));
          let passed;
          const passedOn = new Promise((resolve) => (passed = resolve));
          await page.route(/\/v1\/ns\/e2e\/keys\?.*cursor=/, async (route) => {
            asked();
            await held;
            await route.continue();
            passed();
          });
          await page.click("#next-page");
          await askedFor;
          const during = await page.evaluate(() => ({
            page: window.dashboard.browser.page,
            rows: [...document.querySelectorAll("#keys tbody tr")].map((r) => r.dataset.key),
          }));
          assert.deepEqual(during, { page: 0, rows: keys }, "while the next page loads, the first is what is named and shown");
          release();
          await passedOn;
          await page.unroute(/\/v1\/ns\/e2e\/keys\?.*cursor=/);
          continue;
        }
        await page.click("#next-page");
      }
      assert.equal(seen.size, 25, `every key once: ${[...seen].sort()}`);
      assert.ok(pages.length >= 3, `25 keys at 10 a page take three pages or more: ${pages.map((p) => p.length)}`);
      const row = await page.$$eval("#keys tbody tr", (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
      assert.equal(row[0][2], "json");
      await page.click("#prev-page");
      await page.waitForFunction((n) => window.dashboard.browser.page === n && window.dashboard.browser.seq > 0, pages.length - 2);
      await page.waitForFunction((want) => JSON.stringify([...document.querySelectorAll("#keys tbody tr")].map((r) => r.dataset.key)) === want, JSON.stringify(pages.at(-2)));
      await assertCleanConsole(page, log);
    });
  });

  test("the inspector shows a value, catches a stale CAS on save, saves, and deletes", async () => {
    assert.equal((await call("PUT", keyPath("insp", "doc"), { value: { name: "Ada", langs: ["en"] }, flags: 3 })).status, 200);
    await call("PUT", keyPath("insp", "raw"), new Uint8Array([0, 1, 2, 0x41, 0xff]));
    await withPage(async ({ page, log }) => {
      await page.goto(`${server.baseUrl}/ui`);
      await page.click("#tab-keys");
      await page.locator('#ns option[value="insp"]').waitFor({ state: "attached" });
      await page.selectOption("#ns", "insp");
      await page.locator('#keys tbody tr[data-key="doc"]').click();
      await page.locator("#insp-cas").waitFor();
      assert.equal(await page.locator("#insp-value").textContent(), JSON.stringify({ name: "Ada", langs: ["en"] }, null, 2), "pretty JSON");
      await page.screenshot({ path: join(shots, "dashboard-inspector.png") });

      // Someone else writes the item after the page read it.
      assert.equal((await call("PUT", keyPath("insp", "doc"), { value: { name: "Grace" } })).status, 200);
      await page.fill("#insp-edit", JSON.stringify({ name: "Ada Lovelace" }));
      await page.click("#insp-save");
      await page.locator("#insp-message.error").waitFor();
      assert.match(await page.locator("#insp-message").textContent(), /Conflict.*412 precondition_failed/);
      assert.deepEqual((await call("GET", keyPath("insp", "doc"))).body.value, { name: "Grace" }, "the concurrent write survives");

      // Reloaded, the edit goes through with the new CAS id, keeping the flags.
      await page.click("#insp-reload");
      await page.waitForFunction(() => document.querySelector("#insp-value").textContent.includes("Grace"));
      await page.fill("#insp-edit", JSON.stringify({ name: "Ada Lovelace" }));
      await page.click("#insp-save");
      await page.locator("#insp-message.ok").waitFor();
      const saved = await call("GET", keyPath("insp", "doc"));
      assert.deepEqual(saved.body.value, { name: "Ada Lovelace" });
      assert.equal(saved.body.flags, 0, "the flags of the item as the page read it (the concurrent write set 0)");

      // Bytes: hex and base64 views.
      await page.locator('#keys tbody tr[data-key="raw"]').click();
      await page.locator('#insp-formats button[data-format="hex"]').click();
      assert.match(await page.locator("#insp-value").textContent(), /^00000000  00 01 02 41 ff\s+\.\.\.A\.$/);
      await page.locator('#insp-formats button[data-format="base64"]').click();
      assert.equal(await page.locator("#insp-value").textContent(), "AAECQf8=");

      // A slow answer for the item clicked first does not replace the one
      // clicked last, and nothing of the last item is shown while one loads.
      let release;
      const held = new Promise((resolve) => (release = resolve));
      let asked;
      const askedFor = new Promise((resolve) => (asked = resolve));
      await page.route(/\/v1\/ns\/insp\/keys\/raw$/, async (route) => {
        asked();
        await held;
        await route.continue();
      });
      await page.locator('#keys tbody tr[data-key="doc"]').click();
      await page.waitForFunction(() => window.dashboard.inspector.item?.cas && document.querySelector("#insp-value").textContent.includes("Ada Lovelace"));
      const answers = await page.evaluate(() => window.dashboard.inspector.answers);
      await page.locator('#keys tbody tr[data-key="raw"]').click();
      await askedFor;
      assert.deepEqual(await page.evaluate(() => [window.dashboard.inspector.item, document.querySelector("#insp-value").textContent, document.querySelector("#insp-cas")]), [null, "", null],
        "while raw loads, nothing of doc is shown or can be saved under raw's name");
      await page.locator('#keys tbody tr[data-key="doc"]').click();
      await page.waitForFunction((n) => window.dashboard.inspector.answers === n + 1, answers);
      release();
      await page.waitForFunction((n) => window.dashboard.inspector.answers === n + 2, answers);
      assert.equal(await page.locator("#insp-key").textContent(), "doc");
      assert.match(await page.locator("#insp-value").textContent(), /Ada Lovelace/, "the item clicked last is the one shown");
      await page.unroute(/\/v1\/ns\/insp\/keys\/raw$/);

      // Delete removes the item and its row.
      await page.locator('#keys tbody tr[data-key="doc"]').click();
      await page.locator("#insp-cas").waitFor();
      await page.click("#insp-delete");
      await page.locator("#insp-message.ok").waitFor();
      assert.equal((await call("GET", keyPath("insp", "doc"))).status, 404);
      assert.equal(await page.locator('#keys tbody tr[data-key="doc"]').count(), 0);
      await assertCleanConsole(page, log, [/^error: Failed to load resource: the server responded with a status of 412/]);
    });
  });

  test("flush asks first, naming the namespaces and items it removes", async () => {
    await call("PUT", keyPath("flushme", "a"), { value: 1 });
    await withPage(async ({ page, log }) => {
      await page.goto(`${server.baseUrl}/ui`);
      await page.click("#tab-keys");
      await page.click("#flush");
      await page.locator("#flush-dialog[open]").waitFor();
      const items = await page.$$eval("#flush-namespaces li", (lis) => lis.map((l) => l.textContent));
      assert.ok(items.includes("flushme: 1 items"), `the dialog names flushme: ${items}`);
      assert.match(await page.locator("#flush-summary").textContent(), /removes all \d+ items in \d+ namespaces/);
      await page.click("#flush-cancel");
      assert.equal((await call("GET", keyPath("flushme", "a"))).status, 200, "cancel keeps everything");
      await page.click("#flush");
      await page.click("#flush-confirm");
      await page.waitForFunction(() => window.dashboard.state.flushes === 1);
      assert.equal((await call("GET", keyPath("flushme", "a"))).status, 404);
      await assertCleanConsole(page, log);
    });
  });
});

describe("the dashboard with authentication on", () => {
  let server;
  let dir;
  const admin = "dashboard-admin-token-1";
  const reader = "dashboard-read-token-02";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "memcached-http-ui-auth-"));
    const file = join(dir, "tokens");
    await writeFile(file, `${admin} admin *\n${reader} read *\n`);
    server = await startServer(["-auth-file", file]);
  });
  after(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("asks for a token, shows 401 and 403 plainly, and keeps the token in sessionStorage only", async () => {
    await withPage(async ({ page, log }) => {
      await page.goto(`${server.baseUrl}/ui`);
      await page.locator("#auth:not([hidden])").waitFor();
      assert.match(await page.locator("#auth-message").textContent(), /needs a token \(401 unauthenticated/);

      await page.fill("#auth-token", "not-a-token-at-all");
      await page.click('#auth-form button[type="submit"]');
      await page.waitForFunction(() => /refused this token \(401/.test(document.querySelector("#auth-message").textContent) && !document.querySelector("#auth").hidden);

      await page.fill("#auth-token", reader);
      await page.click('#auth-form button[type="submit"]');
      await page.locator("#error:not([hidden])").waitFor();
      assert.match(await page.locator("#error").textContent(), /Not allowed: 403 permission_denied/);

      // The form is hidden after a 403; forgetting the token brings it back.
      await page.click("#forget-token");
      await page.locator("#auth:not([hidden])").waitFor();
      await page.fill("#auth-token", admin);
      await page.click('#auth-form button[type="submit"]');
      await page.waitForFunction(() => window.dashboard.charts.items.data[0].length >= 2);
      await page.waitForFunction(() => document.querySelector("#error").hidden);
      const storage = await page.evaluate(() => ({ session: sessionStorage.getItem("memcached-http-token"), local: localStorage.length, cookies: document.cookie }));
      assert.deepEqual(storage, { session: admin, local: 0, cookies: "" });

      // The browser with this token reaches the admin operations.
      await page.click("#tab-keys");
      await page.locator("#page-info:text-matches('Page 1')").waitFor();
      const errors = log.filter((l) => /^(pageerror)/.test(l) || /Content Security Policy|Refused to/i.test(l));
      assert.deepEqual(errors, [], "no page errors or CSP violations (401/403 fetches are logged by Chromium as failed loads)");
      assert.deepEqual(await page.evaluate(() => window.__violations), []);
    });
  });
});
