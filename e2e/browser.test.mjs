// End-to-end tests in headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core): Swagger UI at /docs, and the TypeScript SDK used by a
// page on another origin, with and without CORS allowing it.
import assert from "node:assert/strict";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";
import { parse as parseYaml } from "yaml";

import { Client } from "../sdk/ts/dist/index.js";
import { startServer } from "../sdk/ts/test/server.mjs";

const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
// Playwright's bound on the launch and on each navigation and wait. It is
// generous because a busy CI machine (two cores, a load average of 12) can
// take tens of seconds to start Chromium or settle a page: a failure should
// mean the page never got there, not that the machine was slow.
const timeout = 60_000;

let browser; // a persistent context on a fresh profile directory
let profile;

before(async () => {
  profile = await mkdtemp(join(tmpdir(), "memcached-http-e2e-"));
  // Playwright refuses --user-data-dir in args: a persistent context is how
  // it takes a (here fresh) profile directory.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    timeout,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  browser.setDefaultTimeout(timeout);
});

after(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

// A page that records what the browser reports, to explain a failure and to
// check for CSP and CORS messages.
async function openPage() {
  const page = await browser.newPage();
  const console = [];
  const requests = [];
  page.on("console", (msg) => console.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => console.push(`pageerror: ${err.message}`));
  page.on("request", (req) => requests.push(req.url()));
  return { page, console, requests };
}

// press clicks a Swagger UI button by dispatching the click to it once it is
// visible and enabled. A deep link opens the page with Swagger UI's scroll
// animation, and on a loaded machine CI saw a button "not stable" (still
// moving) for Playwright's whole timeout (then 15 s); these tests are about what the
// buttons do, not where they sit mid-scroll.
async function press(button) {
  await button.waitFor({ state: "visible" });
  assert.ok(await button.isEnabled(), "the button is enabled");
  await button.dispatchEvent("click");
}

describe("Swagger UI at /docs", () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test("Try it out runs GET /v1/stats against the serving host and shows 200", async () => {
    const { page, console, requests } = await openPage();
    try {
      // Deep linking opens the operation (tag cache, operationId getStats).
      await page.goto(`${server.baseUrl}/docs#/cache/getStats`);
      const op = page.locator("#operations-cache-getStats");
      await press(op.locator("button.try-out__btn"));
      await press(op.locator("button.execute"));
      const status = op.locator(".live-responses-table tr.response .response-col_status");
      await status.waitFor();
      assert.equal((await status.textContent()).trim(), "200");
      const body = await op.locator(".live-responses-table tr.response .microlight").first().textContent();
      assert.deepEqual(Object.keys(JSON.parse(body)).sort(), ["byte_hits", "bytes", "hits", "items", "misses", "oldest_item_age"]);

      const foreign = requests.filter((url) => !url.startsWith(server.baseUrl + "/"));
      assert.deepEqual(foreign, [], "every asset and call stays on the server");
      assert.ok(requests.includes(`${server.baseUrl}/openapi.yaml`), "the page loads the served contract");
      assert.ok(requests.includes(`${server.baseUrl}/v1/stats`), "Try it out calls this server");
      const violations = console.filter((line) => /Content Security Policy|Refused to/i.test(line));
      assert.deepEqual(violations, [], "the CSP fits the embedded assets");
    } catch (err) {
      err.message += `\nbrowser console:\n${console.join("\n")}`;
      throw err;
    } finally {
      await page.close();
    }
  });
});

describe("Swagger UI's defaults", () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  // executeWithDefaults opens one operation, presses "Try it out" and then
  // Execute without changing anything, and returns the status shown.
  async function executeWithDefaults(tag, operationId) {
    const { page, console } = await openPage();
    try {
      await page.goto(`${server.baseUrl}/docs#/${tag}/${operationId}`);
      const op = page.locator(`#operations-${tag}-${operationId}`);
      await press(op.locator("button.try-out__btn"));
      await press(op.locator("button.execute"));
      const status = op.locator(".live-responses-table tr.response .response-col_status");
      await status.waitFor();
      return (await status.textContent()).trim();
    } catch (err) {
      err.message += `\nbrowser console:\n${console.join("\n")}`;
      throw err;
    } finally {
      await page.close();
    }
  }

  // In this order: PUT stores the example item that GET then reads.
  const cases = [
    ["keys", "set", ["200"]],
    ["keys", "get", ["200"]],
    ["keys", "incr", ["200"]],
    ["batch", "getMulti", ["200"]],
  ];
  for (const [tag, operationId, want] of cases) {
    test(`Execute on ${operationId} with the defaults shown answers ${want.join(" or ")}`, async () => {
      assert.ok(want.includes(await executeWithDefaults(tag, operationId)));
    });
  }

  // Every other operation: a 2xx, or a 404 where the operation documents one.
  test("Execute on every other operation with the defaults shown answers 2xx or its documented 404", async () => {
    const spec = parseYaml(await readFile(fileURLToPath(new URL("../api/openapi.yaml", import.meta.url)), "utf8"));
    const done = new Set(cases.map(([, id]) => id));
    const wrong = [];
    let checked = 0;
    for (const item of Object.values(spec.paths)) {
      for (const op of Object.values(item)) {
        if (!op?.operationId || done.has(op.operationId)) continue;
        const status = await executeWithDefaults(op.tags[0], op.operationId);
        checked++;
        if (!/^2\d\d$/.test(status) && !(status === "404" && op.responses["404"])) {
          wrong.push(`${op.operationId}: ${status}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
    assert.ok(checked >= 15, `${checked} operations executed`);
  });
});

describe("the TypeScript SDK on another origin", () => {
  let site; // the static server of the page, SDK and its dependency
  let siteOrigin;
  let allowed; // memcached-http allowing the page's origin
  let refused; // memcached-http allowing another origin only

  before(async () => {
    site = await serveStatic();
    siteOrigin = `http://127.0.0.1:${site.address().port}`;
    [allowed, refused] = await Promise.all([
      startServer(["-cors-origins", siteOrigin]),
      startServer(["-cors-origins", "https://app.example.com"]),
    ]);
  });
  after(async () => {
    await Promise.all([allowed?.stop(), refused?.stop()]);
    await new Promise((resolve) => site?.close(resolve));
  });

  async function runDemo(server) {
    const { page, console } = await openPage();
    try {
      await page.goto(`${siteOrigin}/?server=${encodeURIComponent(server.baseUrl)}`);
      const result = page.locator('#result[data-state="done"]');
      await result.waitFor();
      return { outcome: JSON.parse(await result.textContent()), console };
    } finally {
      await page.close();
    }
  }

  test("an allowed origin sets, gets with the ETag, and cas-swaps a value", async () => {
    const { outcome, console } = await runDemo(allowed);
    assert.equal(outcome.ok, true, `${JSON.stringify(outcome)}\n${console.join("\n")}`);
    const { result } = outcome;
    assert.equal(result.stored, true);
    assert.equal(result.value, "hello");
    assert.match(result.cas, /^\d+$/);
    assert.equal(result.etag, `"${result.cas}"`, "ETag is exposed to the script");
    assert.equal(result.swapped, true);
    assert.equal(result.staleSwap, false, "the swap gave the item a new CAS id");
    assert.equal(result.final, "hello again");
    assert.equal(await new Client({ baseUrl: allowed.baseUrl }).get("greeting", { namespace: "browser" }), "hello again");
  });

  test("an origin not allowed fails clearly, and nothing is stored", async () => {
    const { outcome, console } = await runDemo(refused);
    assert.equal(outcome.ok, false, JSON.stringify(outcome));
    assert.equal(outcome.error.name, "MemcacheError");
    assert.equal(outcome.error.code, "network");
    assert.equal(outcome.error.status, 0);
    assert.match(outcome.error.message, new RegExp(`does not allow this page's origin ${siteOrigin}: see its -cors-origins`));
    assert.ok(
      console.some((line) => line.includes(`from origin '${siteOrigin}' has been blocked by CORS policy`)),
      `the browser names the CORS refusal:\n${console.join("\n")}`,
    );
    assert.equal(
      await new Client({ baseUrl: refused.baseUrl }).get("greeting", { namespace: "browser" }),
      undefined,
      "the refused preflight kept the PUT from being sent",
    );
  });
});

const root = fileURLToPath(new URL("..", import.meta.url));

// Files the static site serves, by URL path prefix.
const routes = [
  ["/sdk/", join(root, "sdk/ts/dist")],
  ["/vendor/openapi-fetch.mjs", join(root, "sdk/ts/node_modules/openapi-fetch/dist/index.mjs")],
  ["/app.js", join(root, "e2e/page/app.js")],
  ["/", join(root, "e2e/page/index.html")],
];

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json" };

// serveStatic serves the page and the built SDK on 127.0.0.1, a port of its own.
async function serveStatic() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const route = routes.find(([prefix]) => (prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix));
    let file = route?.[1];
    if (route && route[0] === "/sdk/") {
      file = normalize(join(route[1], path.slice(route[0].length)));
      if (!file.startsWith(route[1] + "/")) file = undefined;
    } else if (route && route[0] === "/" && path !== "/") {
      file = undefined;
    }
    try {
      if (!file) throw new Error("no route");
      const body = await readFile(file);
      res.writeHead(200, { "Content-Type": types[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}
