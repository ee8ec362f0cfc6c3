// Namespaces as App Engine has them: "" (sent as ~) and "default" are two
// namespaces, and a client-wide namespace applies to calls that name none.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client, MemcacheError } from "../dist/index.js";
import { startServer } from "./server.mjs";

// everyCall calls every method that addresses a namespace with options.
async function everyCall(mc, options) {
  await mc.get("k", options);
  await mc.gets("k", options);
  await mc.getItem("k", options);
  await mc.getMulti(["k"], options);
  await mc.set("k", 1, options);
  await mc.add("k", 1, options);
  await mc.replace("k", 1, options);
  await mc.gets("k", options);
  await mc.cas("k", 2, options);
  await mc.setMulti({ k: 1 }, options);
  await mc.addMulti({ k: 1 }, options);
  await mc.replaceMulti({ k: 1 }, options);
  await mc.getMulti(["k"], { ...options, forCas: true });
  await mc.casMulti({ k: 1 }, options);
  await mc.incr("n", 1, { ...options, initialValue: 0 });
  await mc.decr("n", 1, options);
  await mc.offsetMulti({ n: 1 }, options);
  await mc.delete("k", options);
  await mc.deleteMulti(["k"], options);
}

// recordingFetch passes requests to the server and records each path's namespace.
function recordingFetch(seen) {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const m = url.pathname.match(/^\/v1\/ns\/([^/]+)\/keys[/:]/);
    if (m) seen.push(m[1]);
    return fetch(input, init);
  };
}

describe("namespaces", () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('"" and absent are sent as ~, never as default', async () => {
    const seen = [];
    const mc = new Client({ baseUrl: server.baseUrl, fetch: recordingFetch(seen) });
    for (const options of [{}, { namespace: "" }, { namespace: undefined }]) {
      seen.length = 0;
      await everyCall(mc, options);
      assert.ok(seen.length >= 19, `${seen.length} requests`);
      assert.deepEqual(new Set(seen), new Set(["~"]), JSON.stringify(options));
    }
  });

  test("every operation keeps the empty namespace apart from default", async () => {
    const mc = new Client({ baseUrl: server.baseUrl });
    await mc.flushAll();
    assert.equal(await mc.set("k", "empty"), true);
    assert.equal(await mc.get("k", { namespace: "default" }), undefined);
    assert.equal(await mc.set("k", "named", { namespace: "default" }), true);
    assert.equal(await mc.get("k"), "empty");
    assert.equal(await mc.incr("n", 1, { initialValue: 0 }), 1);
    assert.equal(await mc.incr("n", 1, { initialValue: 0, namespace: "default" }), 1);
    assert.deepEqual(await mc.getMulti(["k", "n"], { namespace: "default" }), { k: "named", n: 1 });
    assert.equal((await mc.getStats()).items, 4, "stats count both namespaces");
    assert.equal(await mc.flushAll(), true);
    assert.equal(await mc.get("k"), undefined);
    assert.equal(await mc.get("k", { namespace: "default" }), undefined);
  });

  test("a client-wide namespace applies when a call names none, and a call's own wins", async () => {
    const seen = [];
    const tenant = new Client({ baseUrl: server.baseUrl, namespace: "tenant-a", fetch: recordingFetch(seen) });
    const plain = new Client({ baseUrl: server.baseUrl });
    await everyCall(tenant, {});
    assert.deepEqual(new Set(seen), new Set(["tenant-a"]));
    seen.length = 0;
    await everyCall(tenant, { namespace: "" });
    assert.deepEqual(new Set(seen), new Set(["~"]), '"" overrides the client\'s namespace');
    seen.length = 0;
    await everyCall(tenant, { namespace: "other" });
    assert.deepEqual(new Set(seen), new Set(["other"]));

    assert.equal(await tenant.set("where", "tenant"), true);
    assert.equal(await plain.get("where", { namespace: "tenant-a" }), "tenant");
    assert.equal(await plain.get("where"), undefined);
  });

  test("bad namespaces are refused before any request", async () => {
    for (const namespace of ["~", "a b", "a/b", "n".repeat(101)]) {
      assert.throws(() => new Client({ baseUrl: server.baseUrl, namespace }), /\[0-9A-Za-z\._-\]\{0,100\}/, namespace);
      const mc = new Client({ baseUrl: server.baseUrl });
      await assert.rejects(mc.get("k", { namespace }), MemcacheError, namespace);
    }
  });
});
