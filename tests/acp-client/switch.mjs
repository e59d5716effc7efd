// session/set_config_option: provider codex -> claude with the handoff (its progress shown as
// baton notes to a client without compaction support), the handoff reaching claude's first
// model request; a model change; and `/switch codex` back as a slash command.
import { agentText, assert, log, mockRequests, notes, run } from "./lib.mjs";

const lastBody = async (api) => {
  const reqs = (await mockRequests()).filter((r) => r.api === api);
  return JSON.stringify(reqs.at(-1)?.body ?? null);
};

await run("switch", async (make) => {
  const a = make();
  await a.initialize();
  const s = await a.newSession();
  const id = s.sessionId;
  let r = await a.prompt(id, "Please remember that the launch code is TANGO-42.");
  assert.equal(r.stopReason, "end_turn");
  a.take(id);

  const set = await a.request("session/set_config_option", { sessionId: id, configId: "provider", value: "claude" });
  const provider = set.configOptions.find((o) => o.id === "provider");
  assert.equal(provider.currentValue, "claude");
  const model = set.configOptions.find((o) => o.id === "model");
  assert.ok(model.options.some((o) => o.value === "haiku"), "claude's model aliases are offered");
  // The handoff's progress arrived before the answer.
  let updates = a.take(id);
  const handoff = notes(updates, "handoff");
  log("handoff notes:", handoff.trim());
  assert.match(handoff, /Handing the conversation over from codex to claude/);
  assert.match(handoff, /Handed over from codex to claude/);

  r = await a.prompt(id, "What is the launch code?");
  assert.equal(r.stopReason, "end_turn");
  assert.match(await lastBody("Messages"), /TANGO-42/, "claude's first model request carries the handoff");
  assert.match(agentText(a.take(id)), /mock reply to:/);

  // An in-session model change on claude.
  const m = await a.request("session/set_config_option", { sessionId: id, configId: "model", value: "haiku" });
  assert.equal(m.configOptions.find((o) => o.id === "model").currentValue, "haiku");
  r = await a.prompt(id, "which model now");
  assert.equal(r.stopReason, "end_turn");
  const body = JSON.parse(await lastBody("Messages"));
  log("model after the change:", body.model);
  assert.match(body.model, /haiku/);

  // `/switch codex` as a slash command: the handoff back, then the options change.
  a.take(id);
  r = await a.prompt(id, "/switch codex");
  assert.equal(r.stopReason, "end_turn");
  updates = a.take(id);
  assert.match(notes(updates, "handoff"), /from claude to codex/);
  const upd = updates.find((u) => u.sessionUpdate === "config_option_update");
  assert.equal(upd.configOptions.find((o) => o.id === "provider").currentValue, "codex");
  r = await a.prompt(id, "and now the launch code again");
  assert.equal(r.stopReason, "end_turn");
  assert.match(await lastBody("Responses"), /launch code/);
});
