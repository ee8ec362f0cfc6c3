// Starts the real memcached-http binary on a free port for tests. `npm test`
// builds it first (pretest) into .bin/; MEMCACHED_HTTP_BIN points elsewhere.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const defaultBinary = fileURLToPath(new URL("../.bin/memcached-http", import.meta.url));

/**
 * startServer runs the binary with args on 127.0.0.1 and a port the kernel
 * picks, and resolves once it logs that it listens.
 * @param {string[]} args extra flags, e.g. ["-cors-origins", "http://127.0.0.1:5000"]
 * @returns {Promise<{baseUrl: string, stop: () => Promise<void>}>}
 */
export async function startServer(args = []) {
  const binary = process.env.MEMCACHED_HTTP_BIN || defaultBinary;
  if (!existsSync(binary)) {
    throw new Error(`memcached-http binary not found at ${binary}: run npm test (its pretest builds it) or set MEMCACHED_HTTP_BIN`);
  }
  const child = spawn(binary, ["-addr", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { PATH: process.env.PATH ?? "" },
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stderr });
  const output = [];
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`memcached-http did not start in 10s:\n${output.join("\n")}`)), 10_000);
    lines.on("line", (line) => {
      // The last lines are enough to explain a failure; request logs are many.
      output.push(line);
      if (output.length > 50) output.shift();
      try {
        const entry = JSON.parse(line);
        if (entry.msg === "listening") {
          clearTimeout(timer);
          resolve(entry.addr);
        }
      } catch {
        // Not a log line (a panic trace, say): kept in output for the error.
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`memcached-http exited (${code ?? signal}) before listening:\n${output.join("\n")}`));
    });
  });
  return {
    baseUrl: `http://${addr}`,
    async stop() {
      child.kill("SIGTERM");
      const { code, signal } = await exited;
      if (code !== 0) {
        throw new Error(`memcached-http stopped with ${code ?? signal}:\n${output.join("\n")}`);
      }
    },
  };
}
