// initialize, session/new, and a streamed prompt on the default provider (codex).
import { agentText, assert, log, run } from "./lib.mjs";

await run("prompt", async (make) => {
  const a = make();
  const init = await a.initialize();
  assert.equal(init.protocolVersion, 1);
  assert.equal(init.agentInfo.name, "baton");
  assert.match(init.agentInfo.version, /^\d+\.\d+\.\d+/);
  const caps = init.agentCapabilities;
  assert.equal(caps.loadSession, true);
  assert.deepEqual(Object.keys(caps.sessionCapabilities).sort(), ["close", "delete", "list", "resume"]);
  assert.equal(caps.promptCapabilities.embeddedContext, true);
  assert.equal(caps.promptCapabilities.image, false);

  const s = await a.newSession();
  log("session", s.sessionId);
  const byId = Object.fromEntries(s.configOptions.map((o) => [o.id, o]));
  assert.equal(byId.provider.currentValue, "codex");
  assert.ok(byId.provider.options.some((o) => o.value === "claude"), "claude is offered");
  assert.equal(byId.model.category, "model");
  assert.equal(byId.model.currentValue, "mock-model");
  assert.equal(byId.approval_policy.category, "mode");
  // baton starts threads as `untrusted` (ask before anything not known to be safe).
  assert.equal(byId.approval_policy.currentValue, "untrusted");
  assert.equal(s.modes.currentModeId, "untrusted");
  assert.deepEqual(
    s.modes.availableModes.map((m) => m.id),
    ["untrusted", "on-request", "never"],
  );
  const cmds = await a.waitUpdate(s.sessionId, (u) => u.sessionUpdate === "available_commands_update");
  assert.deepEqual(cmds.availableCommands.map((c) => c.name).sort(), ["compact", "switch"]);

  a.take(s.sessionId);
  const r = await a.prompt(s.sessionId, "hello from the ACP client");
  assert.equal(r.stopReason, "end_turn");
  const updates = a.take(s.sessionId);
  const chunks = updates.filter((u) => u.sessionUpdate === "agent_message_chunk");
  assert.ok(chunks.length >= 2, `the answer streamed in chunks (${chunks.length})`);
  assert.equal(agentText(updates), "mock reply to: hello from the ACP client");
  const info = updates.find((u) => u.sessionUpdate === "session_info_update");
  assert.equal(info?.title, "hello from the ACP client");
  assert.ok(!updates.some((u) => u.sessionUpdate === "user_message_chunk"), "the prompt is not echoed live");
  const usage = updates.filter((u) => u.sessionUpdate === "usage_update");
  log("usage updates:", JSON.stringify(usage));
  assert.ok(usage.length >= 1, "usage_update after the turn");
  assert.ok(usage.at(-1).used > 0 && usage.at(-1).size >= usage.at(-1).used, "used within the context size");

  // A plan (codex update_plan) and a reasoning summary stream as plan and thought chunks.
  const p = await a.prompt(s.sessionId, "PLAN: read the code; write the test; run it");
  assert.equal(p.stopReason, "end_turn");
  const planned = a.take(s.sessionId);
  const plan = planned.find((u) => u.sessionUpdate === "plan");
  assert.deepEqual(
    plan?.entries.map((e) => [e.content, e.status]),
    [["read the code", "in_progress"], ["write the test", "pending"], ["run it", "pending"]],
  );
  const t = await a.prompt(s.sessionId, "REASON: the user wants a haiku");
  assert.equal(t.stopReason, "end_turn");
  const thought = a
    .take(s.sessionId)
    .filter((u) => u.sessionUpdate === "agent_thought_chunk")
    .map((u) => u.content.text)
    .join("");
  assert.match(thought, /the user wants a haiku/);

  const list = await a.request("session/list", { cwd: process.env.WORK_DIR });
  assert.equal(list.sessions[0].sessionId, s.sessionId);
  assert.equal(list.sessions[0].title, "hello from the ACP client");
  assert.match(list.sessions[0].updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const exit = await a.close();
  assert.equal(exit.code, 0, "baton acp exits 0 when stdin closes");
});
