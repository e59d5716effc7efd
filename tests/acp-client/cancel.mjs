// session/cancel interrupts the running turn and the prompt answers `cancelled`; a second prompt
// while one runs is refused; the session takes the next prompt normally. On codex and on claude.
import { agentText, assert, expectError, log, run } from "./lib.mjs";

await run("cancel", async (make) => {
  const a = make();
  await a.initialize();
  for (const provider of ["codex", "claude"]) {
    const s = await a.newSession({ _meta: { baton: { provider } } });
    const id = s.sessionId;
    a.take(id);
    // SLOW streams 100 deltas 100 ms apart: plenty of time to cancel in the middle.
    const running = a.prompt(id, "SLOW please");
    await a.waitUpdate(id, (u) => u.sessionUpdate === "agent_message_chunk" && /slow/.test(u.content.text), 60000, "the first slow chunk");
    await expectError(a.prompt(id, "a second prompt"), -32600, "a prompt while one runs");
    const t0 = Date.now();
    await a.notify("session/cancel", { sessionId: id });
    const r = await running;
    const ms = Date.now() - t0;
    log(`${provider}: cancelled after ${ms} ms`);
    assert.equal(r.stopReason, "cancelled");
    assert.ok(ms < 8000, `the cancel took effect quickly (${ms} ms)`);
    const streamed = agentText(a.take(id));
    assert.ok(streamed.length < "slow ".length * 100, "the answer was cut short");

    const again = await a.prompt(id, "are you still there");
    assert.equal(again.stopReason, "end_turn");
    assert.match(agentText(a.take(id)), /mock reply to: are you still there/);
  }
});
