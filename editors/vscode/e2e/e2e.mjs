// The browser half of e2e/run: installs the VSIX into code-server, starts it on a free loopback
// port with a workspace folder, and drives it with playwright-core in Debian's Chromium through the
// command palette, the way a user would. Every wait is bounded; prints `N passed, N failed`.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";

const env = process.env;
const WORK = env.E2E_WORK;
const ROOT = env.E2E_ROOT;
const OUT = env.E2E_OUT;
const CODE_SERVER = env.E2E_CODE_SERVER;
const { chromium } = createRequire(import.meta.url)(env.E2E_PLAYWRIGHT);

const userData = path.join(WORK, "user-data");
const extensions = path.join(WORK, "extensions");
const workspace = path.join(WORK, "workspace");
const prompt = `hello from vscode e2e ${process.pid}`;
mkdirSync(OUT, { recursive: true });
mkdirSync(path.join(userData, "User"), { recursive: true });

// baton (and the codex it spawns) must see only the temp HOME/CODEX_HOME/DB, never the real ones.
const batonEnv = {
  HOME: path.join(WORK, "home"),
  CODEX_HOME: path.join(WORK, "codex"),
  BATON_DB: path.join(WORK, "baton.db"),
  BATON_CODEX_BIN: path.join(ROOT, ".tools/npm/node_modules/.bin/codex"),
};
writeFileSync(
  path.join(userData, "User", "settings.json"),
  JSON.stringify(
    {
      "baton.path": path.join(ROOT, "target/debug/baton"),
      "baton.env": batonEnv,
      "baton.defaultProvider": "codex",
      "security.workspace.trust.enabled": false,
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "telemetry.telemetryLevel": "off",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "update.mode": "none",
    },
    null,
    2,
  ),
);

const results = [];
async function check(name, fn) {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok - ${name}`);
    return true;
  } catch (e) {
    results.push([name, false]);
    console.log(`not ok - ${name}\n${e?.stack ?? e}`);
    return false;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const serverEnv = { ...env, ...batonEnv };
let server;
let serverLog = "";
let browser;

async function runAll() {
  const installed = await check("code-server installs the VSIX", async () => {
    const r = spawnSync(
      CODE_SERVER,
      ["--install-extension", path.join(WORK, "baton.vsix"), "--extensions-dir", extensions, "--user-data-dir", userData],
      { env: serverEnv, encoding: "utf8", timeout: 90_000 },
    );
    if (r.status !== 0) throw new Error(`exit ${r.status} ${r.error ?? ""}\n${r.stdout}\n${r.stderr}`);
    const list = spawnSync(CODE_SERVER, ["--list-extensions", "--extensions-dir", extensions, "--user-data-dir", userData], {
      env: serverEnv,
      encoding: "utf8",
      timeout: 60_000,
    });
    if (!/^baton\.baton$/m.test(list.stdout)) throw new Error(`not listed:\n${list.stdout}\n${list.stderr}`);
  });
  if (!installed) return;

  let port;
  const started = await check("code-server starts", async () => {
    port = await freePort();
    server = spawn(
      CODE_SERVER,
      [
        "--bind-addr", `127.0.0.1:${port}`,
        "--auth", "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--user-data-dir", userData,
        "--extensions-dir", extensions,
        workspace,
      ],
      { env: serverEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    const listening = new Promise((resolve, reject) => {
      const onData = (d) => {
        serverLog += d.toString();
        if (/HTTP server listening/.test(serverLog)) resolve();
      };
      server.stdout.on("data", onData);
      server.stderr.on("data", onData);
      server.on("exit", (code) => reject(new Error(`code-server exited ${code}:\n${serverLog}`)));
    });
    await withTimeout(listening, 60_000, "code-server to listen");
  });
  if (!started) return;

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60_000,
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(30_000);
  const shot = (name) => page.screenshot({ path: path.join(OUT, name), timeout: 15_000 }).catch(() => {});

  // Opens the command palette and runs a command. A webview that has the focus swallows the
  // palette's key binding, and a busy machine can be slow to fill the list: so the focus is moved
  // back to the workbench first, and each attempt (three, both key bindings) is bounded.
  const palette = async (title) => {
    let last;
    for (const key of ["F1", "Control+Shift+P", "F1"]) {
      try {
        await page.keyboard.press("Escape");
        await page.locator(".part.statusbar").first().click({ timeout: 5_000 }).catch(() => {});
        await page.keyboard.press(key);
        const input = page.locator(".quick-input-widget input");
        await input.waitFor({ state: "visible", timeout: 10_000 });
        await input.fill(`>${title}`);
        await page
          .locator(".quick-input-list .monaco-list-row", { hasText: title })
          .first()
          .waitFor({ state: "visible", timeout: 15_000 });
        await page.keyboard.press("Enter");
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  };

  const opened = await check("the workbench opens the workspace with baton installed", async () => {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`, { timeout: 60_000 });
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 90_000 });
    // The activity bar entry appears once the extension's contributions are registered.
    await page.locator('.activitybar [aria-label^="baton"]').first().waitFor({ state: "attached", timeout: 60_000 });
  });
  if (!opened) return shot("failure.png");

  const threaded = await check("baton: New Thread opens a chat panel", async () => {
    await palette("baton: New Thread");
    const quick = page.locator(".quick-input-widget");
    await quick.locator(".quick-input-list .monaco-list-row", { hasText: "codex" }).first().waitFor({ state: "visible" });
    await quick.locator("input").fill("codex");
    await page.keyboard.press("Enter");
    await page.locator(".tab", { hasText: "baton" }).first().waitFor({ state: "visible" });
  });
  if (!threaded) return shot("failure.png");

  const replied = await check("baton: Send Prompt shows the mock's reply in the chat webview", async () => {
    await palette("baton: Send Prompt");
    const input = page.locator(".quick-input-widget input");
    await page.locator(".quick-input-widget", { hasText: "Prompt for the agent" }).waitFor({ state: "visible" });
    await input.fill(prompt);
    await page.keyboard.press("Enter");
    // Webviews are two nested iframes: the host frame, then the content frame.
    const chat = page.frameLocator("iframe.webview.ready").first().frameLocator("#active-frame");
    await chat.locator(".block.user", { hasText: prompt }).first().waitFor({ state: "visible", timeout: 60_000 });
    await chat
      .locator(".block.assistant", { hasText: `mock reply to: ${prompt}` })
      .first()
      .waitFor({ state: "visible", timeout: 90_000 });
  });
  await shot(replied ? "chat.png" : "failure.png");
}

try {
  await runAll();
} catch (e) {
  results.push(["e2e harness", false]);
  console.log(`not ok - e2e harness\n${e?.stack ?? e}`);
} finally {
  await withTimeout(browser?.close() ?? Promise.resolve(), 15_000, "browser close").catch(() => {});
  if (server?.pid && server.exitCode === null) {
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
  }
}
const failedRuns = results.filter(([, ok]) => !ok);
if (failedRuns.length) console.log(`code-server log (tail):\n${serverLog.slice(-3000)}`);
console.log(`${results.length - failedRuns.length} passed, ${failedRuns.length} failed`);
process.exit(failedRuns.length ? 1 : 0);
