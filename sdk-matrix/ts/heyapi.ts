// @hey-api/openapi-ts (its fetch client), generated with no options.
import { client } from "../.gen/heyapi/client.gen";
import { decr, get, getMulti, incr, set } from "../.gen/heyapi/sdk.gen";
import type { StoreRequest } from "../.gen/heyapi/types.gen";
import { main, type Answer } from "./scenario";

async function answer<T>(call: Promise<{ data?: unknown; response?: Response }>): Promise<Answer<T>> {
  const { data, response } = await call;
  return { status: response?.status ?? 0, data: data as T };
}

main("@hey-api/openapi-ts", (baseUrl, namespace) => {
  client.setConfig({ baseUrl });
  return {
    set: (key, body, mode) => answer(set({ path: { namespace, key }, query: mode ? { mode } : {}, body: body as StoreRequest })),
    get: (key) => answer(get({ path: { namespace, key } })),
    incr: (key, body) => answer(incr({ path: { namespace, key }, body })),
    decr: (key, body) => answer(decr({ path: { namespace, key }, body })),
    batchGet: (body) => answer(getMulti({ path: { namespace }, body })),
  };
});
