/**
 * The client module against the real baton binary, the real codex CLI and the mock model: the
 * same code the extension runs, over `vscode-jsonrpc` instead of `LanguageClient`.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { applyEvents, emptyChat, renderMarkdown } from "../src/render";
import type { InputRequestParams } from "../src/protocol";
import { World, withTimeout } from "./harness";

const T = 60_000;

async function world(): Promise<World> {
  const w = await World.create();
  const init = await withTimeout(w.baton.client.initialize("vscode-test"), 30_000, "initialize", w.log);
  assert.equal(init.serverInfo.name, "baton");
  assert.equal(init.protocolVersion, 1);
  assert.ok(init.providers.some((p) => p.id === "codex" && p.available), JSON.stringify(init.providers));
  return w;
}

test("a thread starts, a turn streams its answer, thread/read replays it", { timeout: T }, async () => {
  const w = await world();
  try {
    const c = w.baton.client;
    const thread = await c.startThread({ provider: "codex", cwd: w.work, title: "first" });
    assert.equal(thread.provider, "codex");
    assert.equal(thread.status, "idle");
    const turnId = await c.startTurn(thread.id, "hello from vscode");
    const done = await w.waitFor((e) => e.type === "turn.completed" && e.turnId === turnId, "turn end");
    assert.deepEqual(done.data, { state: "completed" });
    const live = w.events.filter((e) => e.threadId === thread.id);
    const deltas = live.flatMap((e) => (e.type === "content.delta" ? [e.data.delta] : []));
    assert.ok(deltas.length > 1, "the answer streamed in several deltas");
    assert.equal(deltas.join(""), "mock reply to: hello from vscode");
    const seqs = live.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), "seq starts at 1 with no gaps");

    // The read may already hold events whose notification is still on its way: compare the part
    // both have seen, which reaches at least the end of the turn.
    const read = await c.readThread(thread.id);
    const upToDone = live.indexOf(done) + 1;
    assert.ok(read.events.length >= upToDone);
    assert.deepEqual(read.events.slice(0, upToDone), live.slice(0, upToDone));
    const chat = emptyChat(thread.id);
    applyEvents(chat, read.events);
    assert.match(renderMarkdown(chat), /\*\*Agent:\*\* mock reply to: hello from vscode/);

    const listed = await c.listThreads();
    assert.equal(listed[0]?.id, thread.id);
    assert.equal(listed[0]?.title, "first");
    const stopped = await c.stopThread(thread.id);
    assert.equal(stopped.status, "stopped");
  } finally {
    await w.dispose();
  }
});

test("an approval is answered through the handler", { timeout: T }, async () => {
  const w = await world();
  try {
    const c = w.baton.client;
    const asked: string[] = [];
    c.setApprovalHandler((r) => {
      asked.push(r.command ?? "");
      return r.command?.includes("accepted.txt") ? "accept" : "decline";
    });
    const thread = await c.startThread({
      provider: "codex",
      cwd: w.work,
      approvalPolicy: "untrusted",
      sandbox: "workspace-write",
    });
    for (const [file, decision] of [
      ["accepted.txt", "accept"],
      ["declined.txt", "decline"],
    ] as const) {
      const turnId = await c.startTurn(thread.id, `RUN_CMD: touch ${file}`);
      await w.waitFor((e) => e.type === "turn.completed" && e.turnId === turnId, `end of ${file}`);
      const resolved = w.events.find(
        (e) => e.type === "approval.resolved" && e.turnId === turnId,
      );
      assert.ok(resolved && resolved.type === "approval.resolved", "approval.resolved was notified");
      assert.equal(resolved.data.decision, decision);
      assert.equal(existsSync(join(w.work, file)), decision === "accept", `${file} after ${decision}`);
    }
    assert.equal(asked.length, 2);
    assert.ok(asked[0]?.includes("touch accepted.txt"), asked[0]);
  } finally {
    await w.dispose();
  }
});

test("a request baton withdraws cancels the handler's token", { timeout: T }, async () => {
  const w = await world();
  try {
    const c = w.baton.client;
    let cancelled!: () => void;
    const withdrawn = new Promise<void>((resolve) => (cancelled = resolve));
    c.setApprovalHandler(
      (_r, token) =>
        new Promise((resolve) => {
          // The prompt stays open until baton takes the request back.
          token?.onCancellationRequested(() => {
            cancelled();
            resolve("accept");
          });
        }),
    );
    const thread = await c.startThread({
      provider: "codex",
      cwd: w.work,
      approvalPolicy: "untrusted",
      sandbox: "workspace-write",
    });
    const turnId = await c.startTurn(thread.id, "RUN_CMD: touch withdrawn.txt");
    await w.waitFor((e) => e.type === "approval.requested" && e.turnId === turnId, "the approval");
    await c.request("turn/interrupt", { threadId: thread.id });
    await withTimeout(withdrawn, 30_000, "the token's cancellation", w.log);
    const resolved = await w.waitFor(
      (e) => e.type === "approval.resolved" && e.turnId === turnId,
      "approval.resolved",
    );
    assert.ok(resolved.type === "approval.resolved");
    assert.equal(resolved.data.by, "interrupt");
    assert.equal(resolved.data.decision, "cancel");
    await w.waitFor((e) => e.type === "turn.completed" && e.turnId === turnId, "turn end");
    // The late "accept" of the closed prompt changed nothing.
    assert.equal(existsSync(join(w.work, "withdrawn.txt")), false);
  } finally {
    await w.dispose();
  }
});

test("interrupt, compaction and errors go through the typed API", { timeout: T }, async () => {
  const w = await world();
  try {
    const c = w.baton.client;
    const thread = await c.startThread({ provider: "codex", cwd: w.work });
    const turnId = await c.startTurn(thread.id, "SLOW please");
    await w.waitFor((e) => e.type === "content.delta" && e.turnId === turnId, "first delta");
    await assert.rejects(c.startTurn(thread.id, "again"), (e: { code?: number }) => e.code === -32011);
    await c.interrupt(thread.id);
    const end = await w.waitFor((e) => e.type === "turn.completed" && e.turnId === turnId, "interrupted turn");
    assert.equal(end.type === "turn.completed" && end.data.state, "interrupted");

    await w.waitFor((e) => e.type === "thread.status" && e.data.status === "idle" && e.seq > end.seq, "idle");
    await c.compact(thread.id);
    const compacted = await w.waitFor((e) => e.type === "compaction.completed", "compaction");
    assert.ok(compacted.type === "compaction.completed" && compacted.data.summary.length > 0);

    await assert.rejects(c.readThread("no-such-thread"), (e: { code?: number }) => e.code === -32010);
  } finally {
    await w.dispose();
  }
});

test("a plan-mode turn asks the user through input/request and gets the answer", { timeout: T }, async () => {
  const w = await world();
  try {
    const c = w.baton.client;
    const asked: InputRequestParams[] = [];
    c.setInputHandler(async (r) => {
      asked.push(r);
      const q = r.questions[0];
      return q ? { [q.id]: ["blue"] } : undefined;
    });
    const thread = await c.startThread({ provider: "codex", cwd: w.work });
    const turnId = await c.startTurn(thread.id, "ASK_USER: Which color? | red | blue", { mode: "plan" });
    const done = await w.waitFor((e) => e.type === "turn.completed" && e.turnId === turnId, "turn end");
    assert.equal(done.type === "turn.completed" && done.data.state, "completed");
    assert.equal(asked.length, 1, "one input/request");
    const q = asked[0]?.questions[0];
    assert.equal(q?.question, "Which color?");
    assert.deepEqual(q?.options?.map((o) => o.label), ["red", "blue"]);
    const requested = w.events.find((e) => e.type === "input.requested" && e.turnId === turnId);
    const resolved = w.events.find((e) => e.type === "input.resolved" && e.turnId === turnId);
    assert.ok(requested && resolved && resolved.type === "input.resolved", "input.requested and input.resolved were notified");
    assert.equal(resolved.data.cancelled, false);
    assert.deepEqual(Object.values(resolved.data.answers ?? {}), [["blue"]]);
    const chat = emptyChat(thread.id);
    applyEvents(chat, w.events.filter((e) => e.threadId === thread.id));
    const md = renderMarkdown(chat);
    assert.match(md, /question: Which color\? → blue/);
    assert.match(md, /\*\*Agent:\*\* user answered: .*blue/);

    // Escape (the handler answers nothing) cancels; the turn goes on.
    c.setInputHandler(() => undefined);
    const second = await c.startTurn(thread.id, "ASK_USER: Which size? | S | M", { mode: "plan" });
    await w.waitFor((e) => e.type === "turn.completed" && e.turnId === second, "second turn end");
    const cancelled = w.events.find((e) => e.type === "input.resolved" && e.turnId === second);
    assert.ok(cancelled && cancelled.type === "input.resolved" && cancelled.data.cancelled, "the request was cancelled");
  } finally {
    await w.dispose();
  }
});
