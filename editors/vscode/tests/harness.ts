/**
 * A fresh world per test, like the Rust integration harness: a temp HOME, a CODEX_HOME whose
 * config points the real codex CLI at the mock model server, a database, a work directory, and
 * the real baton binary spoken to through the extension's own client module.
 *
 * Every wait is bounded: {@link waitFor} rejects after its timeout with what it was waiting for
 * and the tail of baton's log.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { spawnBaton, type SpawnedBaton } from "../src/client";
import type { Event } from "../src/protocol";

/** The repository root (tests are compiled to out/tests, two levels below editors/vscode). */
export const ROOT = resolve(__dirname, "../../../..");

function bin(envVar: string, fallback: string): string {
  const p = process.env[envVar] || fallback;
  if (!existsSync(p)) {
    throw new Error(`${p} does not exist (run cargo build / scripts/install-tools, or set ${envVar})`);
  }
  return p;
}

export const batonBin = () => bin("BATON_BIN", join(ROOT, "target/debug/baton"));
export const mockBin = () => bin("BATON_MOCK_MODEL_BIN", join(ROOT, "target/debug/mock-model"));
export const codexBin = () =>
  bin("BATON_CODEX_BIN", join(ROOT, ".tools/npm/node_modules/.bin/codex"));
export const claudeBin = () =>
  bin("BATON_CLAUDE_BIN", join(ROOT, ".tools/npm/node_modules/.bin/claude"));

/** The codex config of tests/common/mod.rs, pointed at the mock. */
export function codexConfig(baseUrl: string): string {
  return `model = "mock-model"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.mock]
name = "mock"
base_url = "${baseUrl}/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`;
}

/** Resolves with `promise`, or rejects after `ms` with `what` (and `context()` when given). */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  context?: () => string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what}${context ? `\n${context()}` : ""}`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One test's world; {@link World.dispose} ends every process and deletes the temp tree. */
export class World {
  readonly root = mkdtempSync(join(tmpdir(), "baton-vscode-"));
  readonly home = join(this.root, "home");
  readonly codexHome = join(this.root, "codex_home");
  readonly work = join(this.root, "work");
  readonly db = join(this.root, "data/baton.db");
  /** Every `thread/event` baton notified, in arrival order. */
  readonly events: Event[] = [];
  private mock: ChildProcess | undefined;
  baton!: SpawnedBaton;

  static async create(): Promise<World> {
    const w = new World();
    for (const d of [w.home, w.codexHome, w.work]) mkdirSync(d, { recursive: true });
    const port = await w.startMock();
    const baseUrl = `http://127.0.0.1:${port}`;
    writeFileSync(join(w.codexHome, "config.toml"), codexConfig(baseUrl));
    w.baton = spawnBaton(batonBin(), [], {
      cwd: w.work,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: w.home,
        XDG_DATA_HOME: join(w.root, "xdg"),
        CODEX_HOME: w.codexHome,
        BATON_DB: w.db,
        BATON_CODEX_BIN: codexBin(),
        BATON_CLAUDE_BIN: claudeBin(),
        // Claude Code talks to the mock too, with all of its background traffic off.
        ANTHROPIC_BASE_URL: baseUrl,
        ANTHROPIC_API_KEY: "dummy",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        DISABLE_TELEMETRY: "1",
        DISABLE_AUTOUPDATER: "1",
        DISABLE_ERROR_REPORTING: "1",
        CLAUDE_CODE_MAX_RETRIES: "1",
        RUST_LOG: "baton=debug",
      },
    });
    w.baton.client.onEvent((e) => w.events.push(e));
    return w;
  }

  private async startMock(): Promise<number> {
    const mock = spawn(mockBin(), [], { stdio: ["pipe", "pipe", "inherit"] });
    this.mock = mock;
    const stdout = mock.stdout;
    if (!stdout) throw new Error("mock-model has no stdout");
    const lines = createInterface({ input: stdout });
    const first = new Promise<string>((resolve, reject) => {
      lines.once("line", resolve);
      mock.once("exit", (code) => reject(new Error(`mock-model exited with ${code}`)));
    });
    const line = await withTimeout(first, 10_000, "mock-model's port");
    lines.close();
    const { port } = JSON.parse(line) as { port: number };
    return port;
  }

  /** The tail of baton's log, for failure messages. */
  log = (): string => `--- baton stderr (tail) ---\n${this.baton.stderr().slice(-4000)}`;

  /** Resolves with the first event (already seen or future) that `pred` accepts. */
  waitFor(pred: (e: Event) => boolean, what: string, ms = 30_000): Promise<Event> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    let registration: { dispose(): void } | undefined;
    const found = new Promise<Event>((resolve) => {
      registration = this.baton.client.onEvent((e) => {
        if (pred(e)) resolve(e);
      });
    });
    return withTimeout(found, ms, what, this.log).finally(() => registration?.dispose());
  }

  async dispose(): Promise<void> {
    await this.baton.close(8000);
    this.mock?.stdin?.end();
    this.mock?.kill();
    rmSync(this.root, { recursive: true, force: true });
  }
}
