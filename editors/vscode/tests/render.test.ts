/**
 * The chat view's rendering on a recorded event stream (tests/fixtures/recorded-session.json, from
 * a real baton + codex + claude run against the mock model; re-record with record-fixtures.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { Event } from "../src/protocol";
import { applyEvent, applyEvents, emptyChat, escapeHtml, renderHtml, renderMarkdown, statusText, textToHtml } from "../src/render";

const events = JSON.parse(
  readFileSync(join(__dirname, "../../tests/fixtures/recorded-session.json"), "utf8"),
) as Event[];

test("the recorded session folds into the expected transcript", () => {
  const chat = emptyChat();
  assert.equal(applyEvents(chat, events), true);
  assert.equal(chat.lastSeq, events.length);
  assert.deepEqual(
    chat.blocks.map((b) => b.kind),
    [
      "marker", // model metadata warning
      "user",
      "assistant",
      "marker",
      "user",
      "command",
      "approval",
      "assistant",
      "marker",
      "user",
      "command",
      "approval",
      "assistant",
      "compaction",
      "marker", // handoff started
      "compaction",
      "marker", // handoff completed
      "user",
      "command",
      "approval",
      "assistant",
      "marker", // session stopped
    ],
  );
  const md = renderMarkdown(chat);
  assert.match(md, /\*\*You:\*\* hello there/);
  assert.match(md, /\*\*Agent:\*\* mock reply to: hello there/);
  assert.match(md, /`\$ \/bin\/bash -lc 'touch accepted.txt'` \(exit 0\)/);
  assert.match(md, /approval: .*touch accepted.txt.* → accepted_/);
  assert.match(md, /approval: .*touch declined.txt.* → declined_/);
  assert.match(md, /_handing off codex → claude \(compact\)_/);
  assert.match(md, /_now on claude \(handed over from codex: compact, \d+ chars\)_/);
  assert.match(md, /\*\*Agent:\*\* command finished: ERROR: The user declined this action\./);
  assert.match(md, /_session stopped_/);
  assert.equal(statusText(chat), "claude · mock-model · stopped");
  assert.equal(chat.usage?.costUsd !== undefined, true);
});

test("replayed and live events overlap without duplicates", () => {
  const once = emptyChat();
  applyEvents(once, events);
  const twice = emptyChat();
  applyEvents(twice, events.slice(0, 30));
  applyEvents(twice, events.slice(10));
  assert.deepEqual(twice, once);
  assert.equal(applyEvent(twice, events[5] as Event), false);
});

test("deltas stream into their block before the item completes", () => {
  const chat = emptyChat();
  const upTo = events.findIndex((e) => e.type === "item.completed" && e.data.itemType === "assistant_message");
  applyEvents(chat, events.slice(0, upTo));
  const last = chat.blocks[chat.blocks.length - 1];
  assert.ok(last?.kind === "assistant" && !last.done);
  assert.equal(last.text, "mock reply to: hello there");
  assert.match(renderHtml(chat), /class="block assistant streaming"/);
});

test("the HTML escapes everything the agent says", () => {
  const chat = emptyChat();
  applyEvents(chat, events);
  const html = renderHtml(chat);
  assert.ok(!html.includes("<provider_handoff"), "the handoff message is escaped");
  assert.match(html, /&lt;provider_handoff from=&quot;codex&quot;/);
  assert.match(html, /<span class="badge ok">exit 0<\/span>/);
  assert.match(html, /<details class="marker info compaction"><summary>context compacted<\/summary>/);
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  assert.equal(
    textToHtml("see:\n```rust\nfn main() {}\n```\ndone"),
    '<div class="text">see:\n</div><pre><code>fn main() {}</code></pre><div class="text">done</div>',
  );
});

test("reasoning, file changes, failures and crashes render", () => {
  const base = { threadId: "t", provider: "codex" as const, at: 0 };
  const chat = emptyChat();
  const synthetic: Event[] = [
    { ...base, seq: 1, type: "content.delta", itemId: "r1", data: { stream: "reasoning", delta: "thinking" } },
    { ...base, seq: 2, type: "item.completed", itemId: "r1", data: { itemType: "reasoning", text: "thinking hard" } },
    {
      ...base,
      seq: 3,
      type: "item.completed",
      itemId: "f1",
      data: { itemType: "file_change", changes: [{ path: "src/a.rs", kind: "update", diff: "-a\n+b" }], status: "completed" },
    },
    { ...base, seq: 4, type: "item.started", itemId: "c1", data: { itemType: "command", command: "false" } },
    { ...base, seq: 5, type: "content.delta", itemId: "c1", data: { stream: "command_output", delta: "oops" } },
    { ...base, seq: 6, type: "item.completed", itemId: "c1", data: { itemType: "command", command: "false", exitCode: 1 } },
    { ...base, seq: 7, type: "turn.completed", data: { state: "failed", error: "boom" } },
    { ...base, seq: 8, type: "session.exited", data: { reason: "crashed", recoverable: true } },
    { ...base, seq: 9, type: "runtime.error", data: { message: "bad", class: "provider" } },
  ];
  applyEvents(chat, synthetic);
  const html = renderHtml(chat);
  assert.match(html, /<details class="block reasoning"><summary>Reasoning<\/summary><div class="text">thinking hard<\/div>/);
  assert.match(html, /<span class="kind update">update<\/span> <code>src\/a.rs<\/code>/);
  assert.match(html, /<pre class="output">oops<\/pre>/);
  assert.match(html, /<span class="badge fail">exit 1<\/span>/);
  assert.match(html, /<div class="marker error">turn failed: boom<\/div>/);
  assert.match(html, /<div class="marker error">session crashed<\/div>/);
  assert.match(html, /<div class="marker error">provider error: bad<\/div>/);
});

test("plans, diffs, progress, rate limits, reroutes, questions and context fill render", () => {
  const base = { threadId: "t", provider: "codex" as const, at: Date.now(), turnId: "turn1" };
  const resets = Math.floor(Date.now() / 1000) + 3600;
  const diff1 = "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-old\n+new\n";
  const diff2 = `${diff1}diff --git a/b.txt b/b.txt\n--- /dev/null\n+++ b/b.txt\n@@ -0,0 +1 @@\n+<b>hello</b>\n`;
  let seq = 0;
  const ev = (e: Record<string, unknown>): Event => ({ ...base, seq: ++seq, ...e }) as unknown as Event;
  const stream: Event[] = [
    ev({ type: "session.started", data: { resumed: false, providerThreadId: "p", model: "gpt-x" } }),
    ev({ type: "thread.status", data: { status: "running" } }),
    ev({ type: "content.delta", itemId: "r1", data: { stream: "reasoning_summary", delta: "summing up" } }),
    ev({ type: "item.completed", itemId: "r1", data: { itemType: "reasoning", text: "summing up" } }),
    ev({ type: "turn.plan", data: { steps: [{ text: "read", status: "inProgress" }, { text: "write", status: "pending" }] } }),
    ev({ type: "turn.diff", data: { unifiedDiff: diff1 } }),
    ev({ type: "item.started", itemId: "t1", data: { itemType: "mcp_tool_call", server: "docs", tool: "search" } }),
    ev({ type: "item.progress", itemId: "t1", data: { message: "searching 1/3" } }),
    ev({ type: "item.progress", itemId: "t1", data: { message: "searching 2/3" } }),
    ev({ type: "content.delta", itemId: "t1", data: { stream: "tool_output", delta: "3 hits" } }),
    ev({ type: "turn.plan", data: { explanation: "two steps", steps: [{ text: "read", status: "completed" }, { text: "write <it>", status: "inProgress" }, { text: "test", status: "pending" }] } }),
    ev({ type: "turn.diff", data: { unifiedDiff: diff2 } }),
    ev({ type: "rate_limit.updated", data: { limits: [{ name: "primary", usedPercent: 41.6, windowMinutes: 300, resetsAt: resets }] } }),
    ev({ type: "rate_limit.updated", data: { limits: [{ name: "primary", usedPercent: 41.6, windowMinutes: 300, resetsAt: resets }] } }),
    ev({ type: "model.rerouted", data: { fromModel: "gpt-x", toModel: "gpt-y", reason: "capacity" } }),
    ev({
      type: "input.requested",
      data: {
        requestId: "q1",
        questions: [
          { id: "color", question: "Which color?", options: [{ label: "red" }, { label: "blue" }], multiSelect: false, allowOther: false, secret: false },
          { id: "token", question: "API token?", header: "Token", options: [], multiSelect: false, allowOther: true, secret: true },
        ],
      },
    }),
    ev({ type: "input.resolved", data: { requestId: "q1", answers: { color: ["red"], token: ["hunter2"] }, cancelled: false } }),
    ev({ type: "input.requested", data: { requestId: "q2", questions: [{ id: "x", question: "Go on?", options: [], multiSelect: false, allowOther: true, secret: false }] } }),
    ev({ type: "input.resolved", data: { requestId: "q2", answers: {}, cancelled: true, by: "timeout" } }),
    ev({ type: "item.completed", itemId: "t1", data: { itemType: "mcp_tool_call", server: "docs", tool: "search", status: "failed", error: "no index" } }),
    ev({ type: "usage.updated", data: { inputTokens: 10, outputTokens: 5, totalTokens: 15, contextTokens: 42000, contextWindow: 100000 } }),
    ev({ type: "thread.status", data: { status: "idle" } }),
  ];
  const chat = emptyChat();
  applyEvents(chat, stream);
  assert.deepEqual(
    chat.blocks.map((b) => b.kind),
    ["reasoning", "plan", "diff", "tool", "rateLimit", "marker", "input", "input"],
    "one plan, one diff, one rate limit line: newer ones replace them",
  );
  const html = renderHtml(chat);
  assert.match(html, /<summary>Reasoning summary<\/summary><div class="text">summing up<\/div>/);
  assert.match(html, /<div class="who">Plan \(1\/3 done\)<\/div><div class="explanation">two steps<\/div>/);
  assert.match(html, /<li class="step completed"><code>\[x\]<\/code> read<\/li>/);
  assert.match(html, /<li class="step inProgress"><code>\[&gt;\]<\/code> write &lt;it&gt;<\/li>/);
  assert.match(html, /<li class="step pending"><code>\[ \]<\/code> test<\/li>/);
  assert.equal(html.match(/class="block plan"/g)?.length, 1, "the plan is not duplicated");
  assert.match(html, /<details class="block diff"><summary>Diff: 2 files changed, \+2 -1<\/summary><pre class="diff">/);
  assert.match(html, /<span class="add">\+&lt;b&gt;hello&lt;\/b&gt;<\/span>/);
  assert.ok(!html.includes("<b>hello"), "the diff is escaped");
  assert.match(html, /<span class="who">⚙ docs\/search<\/span> <span class="badge fail">failed<\/span>/);
  assert.match(html, /<pre class="output">3 hits<\/pre>/);
  assert.match(html, /<div class="error">no index<\/div>/);
  const hh = new Date(resets * 1000);
  const at = `${String(hh.getHours()).padStart(2, "0")}:${String(hh.getMinutes()).padStart(2, "0")}`;
  assert.match(html, new RegExp(`<div class="rate-limit">rate limit: primary 42% of 300 min, resets ${at}</div>`));
  assert.match(html, /<div class="marker warning">model rerouted: gpt-x → gpt-y \(capacity\)<\/div>/);
  assert.match(html, /Which color\? <span class="options">\[red \/ blue\]<\/span>/);
  assert.match(html, /<span class="badge ok">Which color\?: red; Token: •••<\/span>/);
  assert.match(html, /<span class="badge fail">cancelled \(timeout\)<\/span>/);
  assert.ok(!html.includes("hunter2") && !renderMarkdown(chat).includes("hunter2"), "secret answers are never shown");
  assert.equal(statusText(chat), "codex · gpt-y · idle · 42% ctx");
  assert.equal(statusText({ provider: "codex", model: "m", status: "idle", usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } }), "codex · m · idle");

  // Progress shows while the item runs and goes when it completes.
  const running = emptyChat();
  applyEvents(running, stream.slice(0, 9));
  assert.match(renderHtml(running), /<div class="progress">… searching 2\/3<\/div>/);
  assert.doesNotMatch(renderHtml(running), /searching 1\/3/);
  assert.doesNotMatch(html, /searching/);

  // A plan of the next turn is a block of its own; markdown carries the checklist.
  applyEvent(chat, { ...base, turnId: "turn2", seq: ++seq, type: "turn.plan", data: { steps: [{ text: "next", status: "pending" }] } });
  assert.equal(chat.blocks.filter((b) => b.kind === "plan").length, 2);
  const md = renderMarkdown(chat);
  assert.match(md, /\*\*Plan:\*\* two steps\n- \[x\] read\n- \[>\] write <it>\n- \[ \] test/);
  assert.match(md, /```diff\ndiff --git a\/a.txt/);
  assert.match(md, /_⚙ docs\/search_ \(error: no index\)/);
});

test("a proposed plan streams into its own block", () => {
  const base = { threadId: "t", provider: "codex" as const, at: 0 };
  const chat = emptyChat();
  applyEvents(chat, [
    { ...base, seq: 1, type: "content.delta", itemId: "p1", data: { stream: "plan", delta: "1. read\n" } },
    { ...base, seq: 2, type: "content.delta", itemId: "p1", data: { stream: "plan", delta: "2. write" } },
    { ...base, seq: 3, type: "item.completed", itemId: "p1", data: { itemType: "plan", text: "1. read\n2. write" } },
  ]);
  assert.deepEqual(chat.blocks, [{ kind: "proposedPlan", itemId: "p1", text: "1. read\n2. write", done: true }]);
  assert.match(renderHtml(chat), /<div class="who">Proposed plan<\/div>/);
});
