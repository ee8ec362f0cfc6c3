// openapi-typescript-codegen (--client fetch). Its path parameters go
// through encodeURI by default, which leaves ?, # and / as they are: the
// workaround (README, "Generating a client") is OpenAPI.ENCODE_PATH.
import { ApiError, BatchService, KeysService, OpenAPI } from "../.gen/otc";
import type { StoreRequest } from "../.gen/otc";
import { main, type Answer } from "./scenario";

async function answer<T>(call: Promise<unknown>): Promise<Answer<T>> {
  try {
    return { status: 200, data: (await call) as T };
  } catch (err) {
    if (err instanceof ApiError) {
      return { status: err.status };
    }
    throw err;
  }
}

main("openapi-typescript-codegen", (baseUrl, namespace) => {
  OpenAPI.BASE = baseUrl;
  OpenAPI.ENCODE_PATH = encodeURIComponent;
  return {
    set: (key, body, mode) => answer(KeysService.set(namespace, key, body as StoreRequest, mode)),
    get: (key) => answer(KeysService.get(namespace, key)),
    incr: (key, body) => answer(KeysService.incr(namespace, key, body)),
    decr: (key, body) => answer(KeysService.decr(namespace, key, body)),
    batchGet: (body) => answer(BatchService.getMulti(namespace, body)),
  };
});
