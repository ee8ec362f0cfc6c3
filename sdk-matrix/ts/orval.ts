// orval (fetch client), generated with orval.config.mjs: JSON and raw PUT
// bodies as separate functions, path parameters percent-encoded, and the
// server's URL read at run time (see that file).
import { decr, get, getMulti, incr, set, type StoreRequest } from "../.gen/orval/api";
import { main, type Answer } from "./scenario";

declare global {
  // The runtime base URL orval.config.mjs names.
  var MATRIX_BASE_URL: string;
}

async function answer<T>(call: Promise<{ data: unknown; status: number }>): Promise<Answer<T>> {
  const { data, status } = await call;
  return { status, data: data as T };
}

main("orval", (baseUrl, namespace) => {
  globalThis.MATRIX_BASE_URL = baseUrl;
  return {
    set: (key, body, mode) => answer(set(namespace, key, body as StoreRequest, mode ? { mode } : {})),
    get: (key) => answer(get(namespace, key)),
    incr: (key, body) => answer(incr(namespace, key, body)),
    decr: (key, body) => answer(decr(namespace, key, body)),
    batchGet: (body) => answer(getMulti(namespace, body)),
  };
});
