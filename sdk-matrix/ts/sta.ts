// swagger-typescript-api (its fetch client), generated with no options. It
// reads ":incr", ":decr" and ":batchGet" in a path as path parameters of
// their own, and puts path parameters into the URL as they are: the
// workarounds (README, "Generating a client") are to pass those parameters
// their literal text and to encode keys with encodeURIComponent.
import { Api, type HttpResponse, type StoreRequest } from "../.gen/sta/api";
import { main, type Answer } from "./scenario";

async function answer<T>(call: Promise<HttpResponse<unknown, unknown>>): Promise<Answer<T>> {
  try {
    const res = await call;
    return { status: res.status, data: res.data as T };
  } catch (err) {
    // A non-2xx answer rejects with the response itself.
    if (err instanceof Response) {
      return { status: err.status };
    }
    throw err;
  }
}

main("swagger-typescript-api", (baseUrl, namespace) => {
  const api = new Api({ baseUrl });
  const k = encodeURIComponent;
  return {
    set: (key, body, mode) => answer(api.v1.set(namespace, k(key), body as StoreRequest, mode ? { mode } : {})),
    get: (key) => answer(api.v1.get(namespace, k(key))),
    incr: (key, body) => answer(api.v1.incr(namespace, k(key), ":incr", body)),
    decr: (key, body) => answer(api.v1.decr(namespace, k(key), ":decr", body)),
    batchGet: (body) => answer(api.v1.getMulti(namespace, ":batchGet", body)),
  };
});
