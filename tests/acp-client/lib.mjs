// Shared harness of the ACP client scenarios: spawns `baton acp` and drives it with the official
// TypeScript SDK (`@agentclientprotocol/sdk`), a real ACP peer implementation.
//
// Environment (set by tests/acp_agent.rs):
//   BATON_BIN          the baton binary
//   BATON_ACP_SDK_DIR  the @agentclientprotocol/sdk package directory
//   MOCK_URL           the mock model server (GET /_mock/requests lists what the model got)
//   WORK_DIR           the directory sessions work in
// plus everything baton itself needs (HOME, CODEX_HOME, BATON_DB, BATON_CODEX_BIN, ...), which
// the spawned baton inherits.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import assert from "node:assert/strict";

export { assert };

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

export const WORK_DIR = () => env("WORK_DIR");
export const MOCK_URL = () => env("MOCK_URL");

/** The SDK's stable entry point, found through its package.json exports. */
export async function loadSdk() {
  const dir = env("BATON_ACP_SDK_DIR");
  const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  if (pkg.version !== "2.4.0") throw new Error(`expected @agentclientprotocol/sdk 2.4.0, found ${pkg.version}`);
  const entry = pkg.exports["."].import;
  return import(pathToFileURL(path.join(dir, entry)).href);
}

const sdk = await loadSdk();

export function log(...args) {
  console.log("[client]", ...args);
}

/** Rejects after `ms` with a message naming what was awaited. */
export function timeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A running `baton acp` with an SDK client connected to it.
 *
 * `permission` answers `session/request_permission` (default: reject); `updates` holds every
 * `session/update` by session id, in arrival order.
 */
export class Agent {
  constructor({ args = [], permission, compaction = false } = {}) {
    this.updates = new Map();
    this.permissions = [];
    this.permission = permission ?? (() => ({ outcome: { outcome: "cancelled" } }));
    this.compaction = compaction;
    this.stderr = "";
    this.child = spawn(env("BATON_BIN"), ["acp", ...args], {
      cwd: WORK_DIR(),
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr.on("data", (d) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve({ code, signal })));
    const stream = sdk.ndJsonStream(Writable.toWeb(this.child.stdin), Readable.toWeb(this.child.stdout));
    const app = sdk
      .client({ name: "baton-acp-test" })
      .onNotification("session/update", ({ params }) => {
        const list = this.updates.get(params.sessionId) ?? [];
        list.push(params.update);
        this.updates.set(params.sessionId, list);
      })
      .onRequest("session/request_permission", async ({ params }) => {
        this.permissions.push(params);
        return this.permission(params);
      });
    this.connection = app.connect(stream);
    this.agent = this.connection.agent;
  }

  request(method, params, ms = 60000) {
    return timeout(this.agent.request(method, params), ms, method);
  }

  notify(method, params) {
    return this.agent.notify(method, params);
  }

  async initialize() {
    return this.request("initialize", {
      protocolVersion: 1,
      clientCapabilities: this.compaction ? { session: { compaction: {} } } : {},
      clientInfo: { name: "baton-acp-test", version: "1.0.0" },
    });
  }

  async newSession(extra = {}) {
    return this.request("session/new", { cwd: WORK_DIR(), mcpServers: [], ...extra });
  }

  /** The updates of a session so far (and forgets them with `take`). */
  of(sessionId) {
    return this.updates.get(sessionId) ?? [];
  }

  take(sessionId) {
    const list = this.of(sessionId);
    this.updates.set(sessionId, []);
    return list;
  }

  /** Waits until an update of the session matches. */
  async waitUpdate(sessionId, pred, ms = 60000, what = "an update") {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.of(sessionId).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.of(sessionId)).slice(0, 2000)}`);
      }
      await sleep(50);
    }
  }

  async prompt(sessionId, text, ms = 120000) {
    return this.request("session/prompt", { sessionId, prompt: [{ type: "text", text }] }, ms);
  }

  /** Closes stdin and waits for an orderly exit. */
  async close() {
    this.child.stdin.end();
    const r = await timeout(this.exited, 15000, "baton acp to exit");
    this.connection.close();
    return r;
  }

  kill() {
    this.child.kill("SIGKILL");
    this.connection.close();
    return timeout(this.exited, 10000, "baton acp to die");
  }
}

/** baton's own `[baton]` notes (agent-message chunks tagged `_meta.baton`). */
export const isNote = (u) => u.sessionUpdate === "agent_message_chunk" && u._meta?.baton !== undefined;

/** Text of the agent's agent_message_chunk updates (not baton's notes), concatenated. */
export function agentText(updates) {
  return updates
    .filter((u) => u.sessionUpdate === "agent_message_chunk" && u.content.type === "text" && !isNote(u))
    .map((u) => u.content.text)
    .join("");
}

/** Text of baton's notes of one kind (`compaction`, `handoff`, `warning`, ...). */
export function notes(updates, kind) {
  return updates
    .filter((u) => isNote(u) && (kind === undefined || u._meta.baton.kind === kind))
    .map((u) => u.content.text)
    .join("");
}

export function userText(updates) {
  return updates
    .filter((u) => u.sessionUpdate === "user_message_chunk" && u.content.type === "text")
    .map((u) => u.content.text)
    .join("\n");
}

/** What the mock model received so far. */
export async function mockRequests() {
  const r = await fetch(`${MOCK_URL()}/_mock/requests`);
  return r.json();
}

/** Expects a rejected promise carrying a JSON-RPC error with `code`. */
export async function expectError(promise, code, what) {
  try {
    const r = await promise;
    assert.fail(`${what}: expected error ${code}, got ${JSON.stringify(r)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.code, code, `${what}: expected error ${code}, got ${e.code} ${e.message}`);
    return e;
  }
}

/** Runs a scenario: prints baton's stderr on failure, exits non-zero. */
export async function run(name, fn) {
  const agents = [];
  const make = (opts) => {
    const a = new Agent(opts);
    agents.push(a);
    return a;
  };
  try {
    await fn(make);
    log(`${name}: ok`);
    process.exit(0);
  } catch (e) {
    console.error(`[client] ${name} FAILED: ${e.stack ?? e}`);
    for (const a of agents) {
      console.error("---- baton stderr (tail) ----\n" + a.stderr.split("\n").slice(-60).join("\n"));
      a.child.kill("SIGKILL");
    }
    process.exit(1);
  }
}
