// Approvals as session/request_permission, answered both ways (codex, RUN_CMD), set through
// session/set_mode; and an agent's question (claude, ASK_USER) answered by picking a choice.
import { agentText, assert, log, run } from "./lib.mjs";

await run("permission", async (make) => {
  let answer = "allow";
  const a = make({
    permission: (req) => {
      const pick = req.options.find((o) => o.optionId === answer) ?? req.options.find((o) => o.name === answer);
      assert.ok(pick, `option ${answer} among ${JSON.stringify(req.options)}`);
      return { outcome: { outcome: "selected", optionId: pick.optionId } };
    },
  });
  await a.initialize();
  const s = await a.newSession();
  const id = s.sessionId;
  assert.equal(s.modes.currentModeId, "untrusted");
  // "Never ask": the command runs without a permission request.
  await a.request("session/set_mode", { sessionId: id, modeId: "never" });
  let opt = await a.waitUpdate(id, (u) => u.sessionUpdate === "config_option_update");
  assert.equal(opt.configOptions.find((o) => o.id === "approval_policy").currentValue, "never");
  a.take(id);
  let r = await a.prompt(id, "RUN_CMD: echo NEVER-ASKED");
  assert.equal(r.stopReason, "end_turn");
  assert.equal(a.permissions.length, 0, "never asks");
  assert.match(agentText(a.take(id)), /command finished: NEVER-ASKED/);
  // Back to "Ask" (untrusted) through the config option: the next command asks.
  const set = await a.request("session/set_config_option", { sessionId: id, configId: "approval_policy", value: "untrusted" });
  assert.equal(set.configOptions.find((o) => o.id === "approval_policy").currentValue, "untrusted");
  const mode = await a.waitUpdate(id, (u) => u.sessionUpdate === "current_mode_update");
  assert.equal(mode.currentModeId, "untrusted");

  // (echo, not touch: whether an approved command may write depends on the provider's sandbox.)
  a.take(id);
  r = await a.prompt(id, "RUN_CMD: echo ALLOWED-RAN");
  assert.equal(r.stopReason, "end_turn");
  assert.equal(a.permissions.length, 1, "one permission request");
  const req = a.permissions[0];
  assert.equal(req.sessionId, id);
  assert.deepEqual(
    req.options.map((o) => o.kind),
    ["allow_once", "allow_always", "reject_once"],
  );
  assert.equal(req.toolCall.kind, "execute");
  assert.equal(req.toolCall.status, "pending");
  assert.match(JSON.stringify(req.toolCall.content), /echo ALLOWED-RAN/);
  let updates = a.take(id);
  log("allowed:", agentText(updates));
  assert.match(agentText(updates), /command finished: ALLOWED-RAN/);
  const call = updates.find((u) => u.sessionUpdate === "tool_call" && u.kind === "execute");
  assert.ok(call, "the command is a tool call");
  assert.match(call.title, /echo ALLOWED-RAN/);
  const done = updates.find(
    (u) => u.sessionUpdate === "tool_call_update" && u.toolCallId === call.toolCallId && u.status === "completed",
  );
  assert.ok(done, `the command's tool call completed: ${JSON.stringify(updates.filter((u) => u.toolCallId === call.toolCallId))}`);

  answer = "reject";
  r = await a.prompt(id, "RUN_CMD: echo REJECTED-RAN");
  assert.equal(r.stopReason, "end_turn");
  assert.equal(a.permissions.length, 2);
  updates = a.take(id);
  log("rejected:", agentText(updates));
  assert.match(agentText(updates), /command rejected/);
  assert.ok(!updates.some((u) => u.sessionUpdate === "tool_call_update" && u.status === "completed"), "the rejected command did not run");

  // A question with choices is asked as a permission request whose options are the choices.
  const c = await a.newSession({ _meta: { baton: { provider: "claude" } } });
  assert.equal(c.configOptions.find((o) => o.id === "provider").currentValue, "claude");
  answer = "blue";
  r = await a.prompt(c.sessionId, "ASK_USER: Which color? | red | blue");
  assert.equal(r.stopReason, "end_turn");
  const q = a.permissions[2];
  assert.ok(q, "the question was asked");
  assert.deepEqual(q.options.map((o) => o.name), ["red", "blue", "Skip"]);
  assert.match(q.toolCall.title, /Which color/);
  updates = a.take(c.sessionId);
  log("question:", agentText(updates));
  assert.match(agentText(updates), /user answered: .*blue/);
});
