// listKeys and listNamespaces: the dashboard's key browser, from the SDK.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client, InvalidArgumentError, MemcacheError } from "../dist/index.js";
import { startServer } from "./server.mjs";

describe("listing keys and namespaces", () => {
  let server;
  let mc;
  before(async () => {
    server = await startServer();
    mc = new Client({ baseUrl: server.baseUrl });
    await mc.flushAll();
  });
  after(async () => {
    await server?.stop();
  });

  test("listKeys pages through a namespace's keys by prefix, each once", async () => {
    for (let i = 0; i < 12; i++) await mc.set(`user:${i}`, { n: i }, { namespace: "ts-list", flags: 2 });
    await mc.set("other", 1, { namespace: "ts-list" });
    const seen = new Set();
    let cursor;
    let pages = 0;
    do {
      const page = await mc.listKeys({ namespace: "ts-list", prefix: "user:", limit: 5, cursor });
      assert.ok(page.keys.length <= 5);
      assert.equal(typeof page.now, "number");
      for (const k of page.keys) {
        assert.ok(!seen.has(k.key), `${k.key} twice`);
        seen.add(k.key);
        assert.equal(k.kind, "json");
        assert.equal(k.flags, 2);
        assert.match(k.cas, /^\d+$/);
        assert.equal(k.expires, null);
      }
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(seen.size, 12);
    assert.ok(pages >= 3, `${pages} pages`);
  });

  test("listNamespaces names the empty namespace \"\" and counts items", async () => {
    await mc.set("k", 1);
    const { namespaces, truncated } = await mc.listNamespaces();
    assert.equal(truncated, false);
    assert.deepEqual(namespaces[0], { namespace: "", items: 1 });
    assert.ok(namespaces.some((n) => n.namespace === "ts-list" && n.items === 13));
  });

  test("a bad limit is refused before sending, a bad cursor by the server naming the field", async () => {
    await assert.rejects(mc.listKeys({ limit: 0 }), InvalidArgumentError);
    await assert.rejects(mc.listKeys({ cursor: "nonsense" }), (err) => err instanceof MemcacheError && err.status === 400 && err.field === "cursor");
  });
});
