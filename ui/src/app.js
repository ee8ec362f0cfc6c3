// The memcached-http dashboard: live charts from /metrics, a key browser
// (GET /v1/namespaces, GET /v1/ns/{namespace}/keys) and an item inspector
// (get, set with If-Match, delete, flush_all), all through this server's
// own API. No framework and no build step beyond copying: the page runs
// under a strict Content-Security-Policy (no inline script or style).
"use strict";

(() => {
  const TOKEN_KEY = "memcached-http-token";
  const REFRESH_MS = 2000;
  const HISTORY = 150; // samples kept per chart: five minutes at 2 s

  const $ = (id) => document.getElementById(id);

  // --- API access -----------------------------------------------------------

  /** An answer of the API that was not a success, with its status and error. */
  class APIError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
    /** How the page says it: status, code and the server's own message. */
    plain() {
      return `${this.status} ${this.code}: ${this.message}`;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  /** fetch on this server with the token; rejects with APIError on failure. */
  async function api(path, { method = "GET", headers = {}, body } = {}) {
    const h = { Accept: "application/json", ...headers };
    const tok = token();
    if (tok) h.Authorization = `Bearer ${tok}`;
    if (body !== undefined) h["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    } catch (err) {
      throw new APIError(0, "unreachable", `the server did not answer (${err.message})`);
    }
    if (res.ok) return res;
    let code = "error", message = res.statusText, field;
    try {
      const e = (await res.json()).error;
      code = e.code;
      message = e.message;
      field = e.field;
    } catch {
      // Not the API's error shape (a proxy's page): keep the status text.
    }
    const err = new APIError(res.status, code, message, field);
    if (res.status === 401) needToken(err);
    throw err;
  }

  async function apiJSON(path, opts) {
    return (await api(path, opts)).json();
  }

  /** The path of one key, percent-encoded (":" too, so :incr stays part of the key). */
  function keyPath(ns, key) {
    return `/v1/ns/${encodeURIComponent(ns)}/keys/${encodeURIComponent(key).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())}`;
  }

  // --- Token, status and errors ----------------------------------------------

  function needToken(err) {
    const had = token() !== "";
    $("auth-message").textContent = had
      ? `The server refused this token (${err.plain()}). Enter another admin token.`
      : `This server needs a token (${err.plain()}). Enter an admin token.`;
    $("auth").hidden = false;
  }

  $("auth-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("auth-token").value.trim());
    $("auth-token").value = "";
    $("auth").hidden = true;
    showError(null);
    $("forget-token").hidden = false;
    refreshCharts();
    loadNamespaces().then(() => (state.view === "keys" ? listFirst() : undefined)).catch(showError);
  });

  $("forget-token").hidden = token() === "";
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("forget-token").hidden = true;
    refreshCharts();
  });

  /** Shows an error plainly (status, code, message), or clears it with null. */
  function showError(err) {
    const box = $("error");
    if (!err) {
      box.hidden = true;
      box.textContent = "";
      return;
    }
    if (err instanceof APIError && err.status === 401) return; // the token form says it
    box.textContent = err instanceof APIError
      ? err.status === 403
        ? `Not allowed: ${err.plain()}. The dashboard needs an admin token covering every namespace (*).`
        : err.plain()
      : String(err);
    box.hidden = false;
  }

  function setStatus(text) {
    $("status").textContent = text;
  }

  // --- Views ------------------------------------------------------------------

  const state = { view: "charts", flushes: 0 };

  function showView(view) {
    state.view = view;
    for (const v of ["charts", "keys"]) {
      $(`view-${v}`).hidden = v !== view;
      $(`tab-${v}`).setAttribute("aria-selected", String(v === view));
    }
    if (view === "charts") resizeCharts();
    if (view === "keys" && !browser.loaded) {
      loadNamespaces().then(listFirst).catch(showError);
    }
  }
  for (const v of ["charts", "keys"]) $(`tab-${v}`).addEventListener("click", () => showView(v));

  // --- Metrics ----------------------------------------------------------------

  /** Parses the Prometheus text format into name → [{labels, value}]. */
  function parseMetrics(text) {
    const out = new Map();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      if (m[3]) {
        for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      }
      const value = Number(m[4]);
      if (!out.has(m[1])) out.set(m[1], []);
      out.get(m[1]).push({ labels, value });
    }
    return out;
  }

  const P = "memcached_http_";

  function one(metrics, name) {
    const s = metrics.get(name);
    return s && s.length ? s[0].value : null;
  }

  /** The growth of a counter over dt seconds, per second; a reset (flush_all) reads as 0. */
  function rate(now, before, dt) {
    if (now === null || before === null || dt <= 0) return null;
    return now >= before ? (now - before) / dt : 0;
  }

  /** The q-quantile of histogram bucket increments (le → count), in seconds. */
  function quantile(q, buckets) {
    const les = [...buckets.keys()].sort((a, b) => a - b);
    const total = buckets.get(Infinity) ?? 0;
    if (!total) return null;
    const rank = q * total;
    let prevLe = 0, prevCount = 0;
    for (const le of les) {
      const c = buckets.get(le);
      if (c >= rank) {
        if (le === Infinity) return prevLe; // beyond the last bound: say the bound
        const inBucket = c - prevCount;
        return inBucket > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket : le;
      }
      prevLe = le;
      prevCount = c;
    }
    return null;
  }

  /** Latency bucket counts summed over routes (le → cumulative count). */
  function latencyBuckets(metrics) {
    const b = new Map();
    for (const s of metrics.get(P + "request_duration_seconds_bucket") || []) {
      if (s.labels.route === "getMetrics" || s.labels.route === "dashboard") continue; // the page's own polling
      const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
      b.set(le, (b.get(le) || 0) + s.value);
    }
    return b;
  }

  function requestCounts(metrics) {
    const c = new Map();
    for (const s of metrics.get(P + "requests_total") || []) {
      c.set(`${s.labels.route} ${s.labels.code}`, s.value);
    }
    return c;
  }

  // --- Charts -----------------------------------------------------------------

  const palette = ["#1f6feb", "#d9480f", "#2f9e44", "#ae3ec9", "#f59f00", "#0c8599", "#e03131", "#5c7cfa", "#66a80f", "#862e9c"];

  /** One chart: a uPlot instance over a rolling window of samples. */
  class Chart {
    constructor(id, series, { unit = "" } = {}) {
      this.el = $(id);
      this.unit = unit;
      this.names = [];
      this.data = [[]];
      this.setSeries(series);
    }
    setSeries(names) {
      const old = new Map(this.names.map((n, i) => [n, this.data[i + 1]]));
      this.names = names;
      this.data = [this.data[0], ...names.map((n) => old.get(n) || this.data[0].map(() => null))];
      this.plot?.destroy();
      const fmt = (v) => (v === null || v === undefined ? "–" : formatNumber(v) + this.unit);
      this.plot = new uPlot({
        width: this.width(),
        height: 200,
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: palette[i % palette.length], width: 2, spanGaps: true, value: (_, v) => fmt(v) }))],
        axes: [{}, { values: (_, ticks) => ticks.map((t) => formatNumber(t)), size: 60 }],
        scales: { x: { time: true }, y: { range: (_, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 1, 1e-9) * 1.1] } },
        legend: { live: true },
      }, this.data, this.el);
    }
    width() {
      return Math.max(this.el.clientWidth - 20, 300);
    }
    push(t, values) {
      this.data[0].push(t);
      this.names.forEach((n, i) => this.data[i + 1].push(values[n] ?? null));
      if (this.data[0].length > HISTORY) for (const col of this.data) col.shift();
      this.plot.setData(this.data);
    }
    /** Whether some series holds a value above zero: what the tests ask of "draws". */
    nonEmpty() {
      return this.data.slice(1).some((col) => col.some((v) => v !== null && v > 0));
    }
  }

  function formatNumber(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
    return v.toPrecision(3);
  }

  const charts = {
    lookups: new Chart("chart-lookups", ["hits/s", "misses/s"]),
    ratio: new Chart("chart-ratio", ["hit ratio"], { unit: "%" }),
    items: new Chart("chart-items", ["items"]),
    memory: new Chart("chart-memory", ["bytes", "charged bytes", "memory limit"]),
    evictions: new Chart("chart-evictions", ["evictions/s"]),
    latency: new Chart("chart-latency", ["p50", "p99"], { unit: " ms" }),
    requests: new Chart("chart-requests", []),
  };

  function resizeCharts() {
    for (const c of Object.values(charts)) c.plot.setSize({ width: c.width(), height: 200 });
  }
  window.addEventListener("resize", resizeCharts);

  let last = null; // the previous scrape: {t, metrics}
  let scraping = false;

  async function refreshCharts() {
    if (scraping) return;
    scraping = true;
    try {
      const res = await api("/metrics", { headers: { Accept: "text/plain" } });
      const metrics = parseMetrics(await res.text());
      const t = Date.now() / 1000;
      const cur = {
        t,
        hits: one(metrics, P + "cache_hits_total"),
        misses: one(metrics, P + "cache_misses_total"),
        evictions: one(metrics, P + "cache_evictions_total"),
        requests: requestCounts(metrics),
        latency: latencyBuckets(metrics),
      };
      charts.items.push(t, { items: one(metrics, P + "cache_items") });
      charts.memory.push(t, {
        bytes: one(metrics, P + "cache_bytes"),
        "charged bytes": one(metrics, P + "cache_charged_bytes"),
        "memory limit": one(metrics, P + "cache_memory_limit_bytes"),
      });
      if (last) {
        const dt = t - last.t;
        const hits = rate(cur.hits, last.hits, dt), misses = rate(cur.misses, last.misses, dt);
        charts.lookups.push(t, { "hits/s": hits, "misses/s": misses });
        charts.ratio.push(t, { "hit ratio": hits + misses > 0 ? (100 * hits) / (hits + misses) : null });
        charts.evictions.push(t, { "evictions/s": rate(cur.evictions, last.evictions, dt) });
        const inc = new Map();
        for (const [le, c] of cur.latency) inc.set(le, Math.max(c - (last.latency.get(le) || 0), 0));
        const p50 = quantile(0.5, inc), p99 = quantile(0.99, inc);
        charts.latency.push(t, { p50: p50 === null ? null : p50 * 1000, p99: p99 === null ? null : p99 * 1000 });
        const rates = {};
        for (const [k, v] of cur.requests) {
          const r = rate(v, last.requests.get(k) ?? 0, dt);
          if (r > 0 || charts.requests.names.includes(k)) rates[k] = r;
        }
        const names = [...new Set([...charts.requests.names, ...Object.keys(rates)])].sort();
        if (names.length !== charts.requests.names.length) charts.requests.setSeries(names);
        charts.requests.push(t, rates);
      }
      last = cur;
      setStatus(`updated ${new Date().toLocaleTimeString()}`);
      if (!$("error").hidden && $("error").dataset.source === "metrics") showError(null);
    } catch (err) {
      setStatus("metrics unavailable");
      showError(err);
      $("error").dataset.source = "metrics";
    } finally {
      scraping = false;
    }
  }

  // --- Key browser ------------------------------------------------------------

  const browser = {
    loaded: false,
    cursors: [""], // the cursor of each page seen so far; [page] is the current one
    page: 0,
    seq: 0,
    query: "",
    next: null,
    serverSkew: 0, // server seconds minus this browser's, from the last page
    rows: [],
  };

  async function loadNamespaces() {
    const body = await apiJSON("/v1/namespaces");
    const sel = $("ns");
    const current = sel.value || "~";
    sel.textContent = "";
    const names = body.namespaces.map((n) => n.namespace);
    if (!names.includes(current)) body.namespaces.unshift({ namespace: current, items: 0 });
    if (!names.includes("~") && current !== "~") body.namespaces.unshift({ namespace: "~", items: 0 });
    for (const n of body.namespaces) {
      const o = document.createElement("option");
      o.value = n.namespace;
      o.textContent = `${n.namespace === "~" ? "~ (the empty namespace)" : n.namespace} · ${n.items} items`;
      sel.append(o);
    }
    sel.value = current;
    state.namespaces = body;
    return body;
  }

  function listFirst() {
    browser.cursors = [""];
    return listPage(0);
  }

  // listPage asks for page n; browser.page becomes n only when its answer is
  // shown, so it always names the rows on screen (and Next after a slow answer
  // follows the cursor of the page the user sees).
  async function listPage(n) {
    const q = new URLSearchParams({ limit: $("limit").value });
    if ($("prefix").value) q.set("prefix", $("prefix").value);
    const cursor = browser.cursors[n];
    if (cursor) q.set("cursor", cursor);
    const ns = $("ns").value || "~";
    const seq = ++browser.seq; // a slower answer to an older request must not win
    try {
      const body = await apiJSON(`/v1/ns/${encodeURIComponent(ns)}/keys?${q}`);
      if (seq !== browser.seq) return;
      showError(null);
      browser.page = n;
      browser.query = q.toString();
      browser.loaded = true;
      browser.ns = ns;
      browser.next = body.next_cursor ?? null;
      browser.serverSkew = body.now - Date.now() / 1000;
      browser.rows = body.keys;
      renderKeys();
    } catch (err) {
      showError(err);
    }
  }

  function renderKeys() {
    const tbody = $("keys").tBodies[0];
    tbody.textContent = "";
    for (const k of browser.rows) {
      const tr = document.createElement("tr");
      tr.dataset.key = k.key;
      const cells = [k.key, formatBytes(k.size), k.kind, String(k.flags), k.cas, ""];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 0) td.className = "key";
        if (i === 5) td.className = "ttl";
        tr.append(td);
      });
      tr.addEventListener("click", () => (k.key_base64 ? notAddressable(k) : inspect(browser.ns, k.key)));
      if (inspector.key === k.key && inspector.ns === browser.ns) tr.classList.add("selected");
      tbody.append(tr);
    }
    $("keys-empty").hidden = browser.rows.length > 0;
    $("prev-page").disabled = browser.page === 0;
    $("next-page").disabled = browser.next === null;
    $("page-info").textContent = `Page ${browser.page + 1}${browser.next === null ? " (last)" : ""} · ${browser.rows.length} keys`;
    tickTTL();
  }

  /** Counts every listed item's TTL down by the server's clock. */
  function tickTTL() {
    const now = Date.now() / 1000 + browser.serverSkew;
    const rows = $("keys").tBodies[0].rows;
    browser.rows.forEach((k, i) => {
      if (rows[i]) rows[i].cells[5].textContent = formatTTL(k.expires, now);
    });
    const ttl = $("insp-ttl");
    if (inspector.item && ttl) ttl.textContent = formatTTL(inspector.item.expires, now);
  }

  function formatTTL(expires, now) {
    if (expires === null || expires === undefined) return "never";
    const left = Math.ceil(expires - now);
    if (left <= 0) return "expired";
    const d = Math.floor(left / 86400), h = Math.floor((left % 86400) / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    if (d) return `${d}d ${h}h ${m}m`;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s`;
    if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
    return `${s}s`;
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  $("list-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadNamespaces().catch(() => {}).finally(listFirst);
  });
  $("ns").addEventListener("change", listFirst);
  $("next-page").addEventListener("click", () => {
    if (browser.next === null) return;
    browser.cursors[browser.page + 1] = browser.next;
    listPage(browser.page + 1);
  });
  $("prev-page").addEventListener("click", () => {
    if (browser.page === 0) return;
    listPage(browser.page - 1);
  });

  // --- Item inspector ---------------------------------------------------------

  // seq numbers the reads: a slower answer for an item clicked earlier must
  // not replace the one clicked last. answers counts the reads that came back.
  const inspector = { ns: null, key: null, item: null, format: null, seq: 0, answers: 0 };

  function b64ToBytes(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function bytesToB64(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  function hexDump(bytes) {
    const lines = [];
    for (let off = 0; off < bytes.length; off += 16) {
      const row = bytes.subarray(off, off + 16);
      const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
      const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
      lines.push(`${off.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
    }
    return lines.join("\n");
  }

  function parseHex(text) {
    const digits = text.replace(/^[0-9a-f]{8}  /gim, "").replace(/  .*$/gm, "").replace(/\s+/g, "");
    if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error("hex must be pairs of hex digits");
    const out = new Uint8Array(digits.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.substr(2 * i, 2), 16);
    return out;
  }

  /** The formats an item can be shown in: JSON values as JSON or text, bytes as text, hex or base64. */
  function formatsOf(item) {
    return item.encoding === "base64" ? ["text", "hex", "base64"] : ["json", "text"];
  }

  function render(item, format) {
    if (item.encoding === "base64") {
      const bytes = b64ToBytes(item.value);
      if (format === "hex") return hexDump(bytes);
      if (format === "base64") return item.value;
      return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    }
    if (format === "text") return typeof item.value === "string" ? item.value : JSON.stringify(item.value);
    return JSON.stringify(item.value, null, 2);
  }

  /** The PUT body of the edited text in the shown format, keeping flags and expiry. */
  function editedBody(item, format, text) {
    const body = { flags: item.flags };
    if (item.expires !== null && item.expires !== undefined) body.time = item.expires; // an absolute time keeps the expiry
    if (item.encoding === "base64") {
      const bytes = format === "hex" ? parseHex(text) : format === "base64" ? b64ToBytes(text.trim()) : new TextEncoder().encode(text);
      body.value = bytesToB64(bytes);
      body.encoding = "base64";
    } else if (format === "text" && typeof item.value === "string") {
      body.value = text;
    } else {
      try {
        body.value = JSON.parse(text);
      } catch (err) {
        throw new Error(`not valid JSON: ${err.message}`);
      }
    }
    return body;
  }

  function message(text, kind) {
    const p = $("insp-message");
    p.textContent = text;
    p.className = kind || "";
  }

  /** A key that is not UTF-8 (written through the memcached listener) has no HTTP path. */
  function notAddressable(k) {
    inspector.seq++; // a read still on its way is for another item
    inspector.key = null; // nothing here for Save or Delete to act on
    inspector.item = null;
    $("insp-formats").textContent = "";
    $("inspector").hidden = false;
    $("insp-key").textContent = k.key;
    $("insp-meta").textContent = "";
    $("insp-value").textContent = "";
    $("insp-edit").value = "";
    message(`This key is not UTF-8 (its bytes in base64: ${k.key_base64}); it was written through the memcached listener, and only a memcached client can read or change it.`, "error");
  }

  async function inspect(ns, key) {
    const seq = ++inspector.seq;
    if (inspector.ns !== ns || inspector.key !== key) {
      // Another item: until it arrives, show nothing of the last one, so Save
      // cannot send its value (or its CAS id) under this key.
      inspector.item = null;
      $("insp-meta").textContent = "";
      $("insp-formats").textContent = "";
      $("insp-value").textContent = "";
      $("insp-edit").value = "";
    }
    inspector.ns = ns;
    inspector.key = key;
    for (const tr of $("keys").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.key === key);
    $("inspector").hidden = false;
    $("insp-key").textContent = key;
    message("");
    try {
      const res = await api(keyPath(ns, key));
      const item = await res.json();
      inspector.answers++;
      if (seq !== inspector.seq) return;
      item.etag = res.headers.get("ETag");
      inspector.item = item;
      inspector.format = formatsOf(item)[0];
      renderInspector();
    } catch (err) {
      inspector.answers++;
      if (seq !== inspector.seq) return;
      inspector.item = null;
      $("insp-meta").textContent = "";
      $("insp-value").textContent = "";
      message(err instanceof APIError && err.status === 404 ? "This item is gone (deleted, expired or evicted)." : err.plain?.() ?? String(err), "error");
    }
  }

  function renderInspector() {
    const item = inspector.item;
    const meta = $("insp-meta");
    meta.textContent = "";
    const row = (k, v, id) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      if (id) dd.id = id;
      meta.append(dt, dd);
    };
    row("namespace", inspector.ns);
    row("kind", item.encoding === "base64" ? "bytes" : "json");
    row("flags", String(item.flags));
    row("CAS", item.cas, "insp-cas");
    row("expires", item.expires ? new Date(item.expires * 1000).toISOString() : "never");
    row("TTL", "", "insp-ttl");
    const group = $("insp-formats");
    group.textContent = "";
    for (const f of formatsOf(item)) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.format = f;
      b.textContent = { json: "JSON", text: "Text", hex: "Hex", base64: "Base64" }[f];
      b.setAttribute("aria-pressed", String(f === inspector.format));
      b.addEventListener("click", () => {
        inspector.format = f;
        renderInspector();
      });
      group.append(b);
    }
    const shown = render(item, inspector.format);
    $("insp-value").textContent = shown;
    $("insp-edit").value = shown;
    $("insp-edit-format").textContent = inspector.format;
    tickTTL();
  }

  $("insp-reload").addEventListener("click", () => inspector.key !== null && inspect(inspector.ns, inspector.key));

  $("insp-save").addEventListener("click", async () => {
    const item = inspector.item;
    if (!item) return;
    let body;
    try {
      body = editedBody(item, inspector.format, $("insp-edit").value);
    } catch (err) {
      message(`Not saved: ${err.message}.`, "error");
      return;
    }
    try {
      // If-Match: the write happens only if the item still has the CAS id
      // it had when it was opened, so a concurrent change is not lost.
      const res = await apiJSON(keyPath(inspector.ns, inspector.key), { method: "PUT", headers: { "If-Match": `"${item.cas}"` }, body });
      await inspect(inspector.ns, inspector.key);
      message(`Saved (CAS ${res.cas}).`, "ok");
      refreshRow(inspector.key);
    } catch (err) {
      if (err instanceof APIError && err.status === 412) {
        message(`Conflict: the item changed (or went away) since you opened it, so nothing was saved (${err.plain()}). Reload to see the current value, then edit again.`, "error");
      } else {
        message(`Not saved: ${err.plain?.() ?? err}.`, "error");
      }
    }
  });

  $("insp-delete").addEventListener("click", async () => {
    const { ns, key } = inspector;
    if (key === null) return;
    try {
      await api(keyPath(ns, key), { method: "DELETE" });
      inspector.item = null;
      $("insp-meta").textContent = "";
      $("insp-value").textContent = "";
      $("insp-edit").value = "";
      message(`Deleted ${key}.`, "ok");
      browser.rows = browser.rows.filter((k) => !(browser.ns === ns && k.key === key));
      renderKeys();
    } catch (err) {
      message(err instanceof APIError && err.status === 404 ? "Already gone." : `Not deleted: ${err.plain?.() ?? err}.`, "error");
    }
  });

  /** Re-reads the listing page so a saved item shows its new size and CAS. */
  function refreshRow() {
    if (browser.loaded) listPage(browser.page);
  }

  // --- Flush ------------------------------------------------------------------

  $("flush").addEventListener("click", async () => {
    let nss;
    try {
      nss = await loadNamespaces();
    } catch (err) {
      showError(err);
      return;
    }
    const used = nss.namespaces.filter((n) => n.items > 0);
    const total = used.reduce((s, n) => s + n.items, 0);
    $("flush-summary").textContent = total === 0
      ? "The cache holds no items now; flushing still clears delete locks and resets the counters."
      : `This removes all ${total} items in ${used.length} namespace${used.length === 1 ? "" : "s"}${nss.truncated ? " (and more namespaces than listed)" : ""}:`;
    const ul = $("flush-namespaces");
    ul.textContent = "";
    for (const n of used) {
      const li = document.createElement("li");
      li.textContent = `${n.namespace === "~" ? "~ (the empty namespace)" : n.namespace}: ${n.items} items`;
      ul.append(li);
    }
    $("flush-dialog").showModal();
  });

  $("flush-dialog").addEventListener("close", async () => {
    if ($("flush-dialog").returnValue !== "flush") return;
    try {
      await api("/v1/flush", { method: "POST" });
      message("");
      setStatus("flushed");
      state.flushes++;
      await loadNamespaces();
      await listFirst();
    } catch (err) {
      showError(err);
    }
  });

  // --- Start ------------------------------------------------------------------

  window.dashboard = { charts, browser, inspector, state }; // for the browser tests and a curious operator
  refreshCharts();
  setInterval(refreshCharts, REFRESH_MS);
  setInterval(tickTTL, 1000);
})();
