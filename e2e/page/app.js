// Uses the built TypeScript SDK from a page whose origin differs from the
// server's (given as ?server=…): set, get with its ETag, then cas. The outcome
// is written to #result as JSON for the test to read.
import { Client } from "/sdk/index.js";

const server = new URLSearchParams(location.search).get("server");
const mc = new Client({ baseUrl: server });
const out = document.getElementById("result");

async function demo() {
  const namespace = "browser";
  const stored = await mc.set("greeting", "hello", { namespace });
  const item = await mc.getItem("greeting", { namespace, forCas: true });
  const swapped = await mc.cas("greeting", "hello again", { namespace });
  const staleSwap = await mc.cas("greeting", "too late", { namespace });
  const final = await mc.get("greeting", { namespace });
  return { stored, value: item?.value, cas: item?.cas, etag: item?.etag, swapped, staleSwap, final };
}

demo()
  .then((result) => ({ ok: true, result }))
  .catch((err) => ({ ok: false, error: { name: err.name, code: err.code, status: err.status, message: err.message } }))
  .then((outcome) => {
    out.textContent = JSON.stringify(outcome, null, 2);
    out.dataset.state = "done";
  });
