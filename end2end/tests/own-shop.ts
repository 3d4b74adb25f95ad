import { spawn, ChildProcess } from "node:child_process";

// A shop of its own for a spec that must change or restart it (not Playwright's shared web
// server): the same server binary, its own port and data directory.
const serverPath = process.env.HOLDFAST_E2E_SERVER ?? "../target/debug/server";

export function startShop(
  port: number,
  dataDir: string,
  env: Record<string, string>,
): ChildProcess {
  return spawn(serverPath, [], {
    env: {
      ...process.env,
      HOLDFAST_ADDR: `127.0.0.1:${port}`,
      HOLDFAST_DATA_DIR: dataDir,
      LEPTOS_SITE_ROOT: "../target/site",
      LEPTOS_OUTPUT_NAME: "holdfast",
      RUST_LOG: "warn",
      // the suite's own shop has the default metrics port
      HOLDFAST_METRICS_ADDR: "off",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** Waits until the shop at `base` answers `/healthz`. */
export async function shopReady(base: string) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the shop on ${base} did not start`);
}

/** Stops it as a deploy would (SIGTERM) and waits until it has exited. */
export async function stopShop(server: ChildProcess) {
  if (server.exitCode !== null) return;
  const exited = new Promise((r) => server.once("exit", r));
  server.kill("SIGTERM");
  await exited;
}
