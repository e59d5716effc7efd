/**
 * Records the event streams the render tests replay: a real baton with the real codex CLI and
 * the mock model, driven through the client module. Run it after a protocol or provider change:
 * `npx tsc -p . && node out/tests/record-fixtures.js` (from editors/vscode, after cargo build).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { World, withTimeout } from "./harness";

async function main(): Promise<void> {
  const w = await World.create();
  try {
    const c = w.baton.client;
    await withTimeout(c.initialize("record-fixtures"), 30_000, "initialize", w.log);
    c.setApprovalHandler((r) => (r.command?.includes("declined") ? "decline" : "accept"));
    const thread = await c.startThread({
      provider: "codex",
      cwd: w.work,
      approvalPolicy: "untrusted",
      sandbox: "workspace-write",
      title: "fixture",
    });
    const say = async (prompt: string) => {
      const turnId = await c.startTurn(thread.id, prompt);
      await w.waitFor((e) => e.type === "turn.completed" && e.turnId === turnId, `end of ${prompt}`);
    };
    for (const prompt of ["hello there", "RUN_CMD: touch accepted.txt", "RUN_CMD: touch declined.txt"]) {
      await say(prompt);
    }
    await c.compact(thread.id);
    const compacted = await w.waitFor(
      (e) => e.type === "compaction.completed" || e.type === "compaction.failed",
      "compaction",
    );
    await w.waitFor((e) => e.type === "turn.completed" && e.turnId === compacted.turnId, "compaction turn");
    await c.switchProvider(thread.id, "claude");
    await say("after the switch");
    await c.stopThread(thread.id);
    const { events } = await c.readThread(thread.id);
    const out = join(__dirname, "../../tests/fixtures/recorded-session.json");
    writeFileSync(out, `${JSON.stringify(events, null, 1)}\n`);
    console.log(`wrote ${events.length} events to ${out}`);
  } finally {
    await w.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
