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
