// `/compact [instructions]`: as `compaction_update` for a client that advertises
// clientCapabilities.session.compaction, and as baton notes for one that does not.
import { agentText, assert, log, mockRequests, notes, run } from "./lib.mjs";

await run("compact", async (make) => {
  const a = make({ compaction: true });
  await a.initialize();
  const s = await a.newSession();
  const id = s.sessionId;
  await a.prompt(id, "Please remember that the launch code is TANGO-42.");
  a.take(id);
  const r = await a.prompt(id, "/compact keep the launch code");
  assert.equal(r.stopReason, "end_turn");
  const updates = a.take(id);
  const comp = updates.filter((u) => u.sessionUpdate === "compaction_update");
  assert.deepEqual(comp.map((u) => u.status), ["in_progress", "completed"]);
  assert.equal(comp[0].compactionId, comp[1].compactionId);
  const summary = comp[1].summary.map((b) => b.text).join("");
  log("summary:", summary);
  assert.match(summary, /MOCK SUMMARY/);
  assert.match(summary, /TANGO-42/);
  assert.equal(notes(updates), "", "no notes for a client that renders compaction_update");
  // The model was asked to compact (codex's compaction prompt reached the mock).
  const reqs = await mockRequests();
  assert.ok(reqs.some((q) => JSON.stringify(q.body).includes("CONTEXT CHECKPOINT COMPACTION")));

  // The conversation goes on after the compaction.
  const next = await a.prompt(id, "what now");
  assert.equal(next.stopReason, "end_turn");
  assert.match(agentText(a.take(id)), /mock reply to: what now/);

  // A handoff is shown as a compaction too, tagged as a handoff in _meta.
  const sw = await a.prompt(id, "/switch claude");
  assert.equal(sw.stopReason, "end_turn");
  const hand = a.take(id).filter((u) => u.sessionUpdate === "compaction_update" && u._meta?.baton?.kind === "handoff");
  assert.deepEqual(hand.map((u) => u.status), ["in_progress", "completed"]);
  assert.match(hand[1].summary[0].text, /Handed over from codex to claude/);

  // A client without compaction support sees clearly marked notes instead (claude this time).
  const b = make();
  await b.initialize();
  const c = await b.newSession({ _meta: { baton: { provider: "claude" } } });
  await b.prompt(c.sessionId, "remember BRAVO-7");
  b.take(c.sessionId);
  const r2 = await b.prompt(c.sessionId, "/compact");
  assert.equal(r2.stopReason, "end_turn");
  const u2 = b.take(c.sessionId);
  assert.ok(!u2.some((u) => u.sessionUpdate === "compaction_update"));
  const text = notes(u2, "compaction");
  log("notes:", text.trim());
  assert.match(text, /\[baton\] Compacting the conversation/);
  assert.match(text, /\[baton\] Compaction completed/);
});
