// Kill `baton acp` and start it again on the same database: session/list finds the sessions,
// session/load replays the conversation (the user's messages as user_message_chunk) and the next
// prompt resumes the same provider thread; session/resume attaches without replay. Then
// session/close and session/delete.
import { agentText, assert, log, mockRequests, notes, run, userText } from "./lib.mjs";

const lastBody = async (api) => {
  const reqs = (await mockRequests()).filter((r) => r.api === api);
  return JSON.stringify(reqs.at(-1)?.body ?? null);
};

await run("restart", async (make) => {
  const a = make();
  await a.initialize();
  const s = await a.newSession();
  const id = s.sessionId;
  await a.prompt(id, "Please remember that the launch code is TANGO-42.");
  await a.request("session/set_config_option", { sessionId: id, configId: "provider", value: "claude" });
  await a.prompt(id, "Also remember the colour ULTRAMARINE.");
  const other = (await a.newSession()).sessionId;
  await a.prompt(other, "The password is SWORDFISH.");
  const killed = await a.kill();
  log("first baton acp killed:", JSON.stringify(killed));

  const b = make();
  await b.initialize();
  const list = await b.request("session/list", { cwd: process.env.WORK_DIR });
  const ids = list.sessions.map((x) => x.sessionId);
  assert.deepEqual(ids, [other, id], "both sessions, newest first");
  assert.equal(list.sessions[1].title, "Please remember that the launch code is TANGO-42.");
  assert.equal(list.sessions[1]._meta.baton.provider, "claude");
  const elsewhere = await b.request("session/list", { cwd: "/nonexistent-dir" });
  assert.equal(elsewhere.sessions.length, 0, "the cwd filter applies");

  const loaded = await b.request("session/load", { sessionId: id, cwd: process.env.WORK_DIR, mcpServers: [] });
  assert.equal(loaded.configOptions.find((o) => o.id === "provider").currentValue, "claude");
  const replay = b.take(id);
  log("replayed", replay.length, "updates");
  assert.equal(
    userText(replay),
    "Please remember that the launch code is TANGO-42.\nAlso remember the colour ULTRAMARINE.",
    "the user's messages are replayed, without the handoff block",
  );
  const answers = agentText(replay);
  assert.match(answers, /mock reply to: Please remember that the launch code is TANGO-42\./);
  assert.match(notes(replay, "handoff"), /Handed over from codex to claude/);
  const order = replay.map((u) => u.sessionUpdate).filter((k) => k.endsWith("_chunk"));
  assert.equal(order[0], "user_message_chunk", "the conversation starts with the user");

  const r = await b.prompt(id, "What was the colour?");
  assert.equal(r.stopReason, "end_turn");
  const body = await lastBody("Messages");
  assert.match(body, /ULTRAMARINE/, "claude resumed its own thread, with its history");
  assert.match(agentText(b.take(id)), /mock reply to: What was the colour\?/);

  // session/resume: attached without replay; the next prompt resumes codex's thread.
  await b.request("session/resume", { sessionId: other, cwd: process.env.WORK_DIR, mcpServers: [] });
  await b.waitUpdate(other, (u) => u.sessionUpdate === "available_commands_update");
  assert.deepEqual(
    b.take(other).map((u) => u.sessionUpdate),
    ["available_commands_update"],
    "resume replays nothing",
  );
  await b.prompt(other, "What was the password?");
  assert.match(await lastBody("Responses"), /SWORDFISH/, "codex resumed its own thread");

  await b.request("session/close", { sessionId: other });
  const closed = await b.request("session/list", {});
  assert.ok(closed.sessions.some((x) => x.sessionId === other), "a closed session can be loaded later");
  await b.request("session/delete", { sessionId: other });
  const after = await b.request("session/list", {});
  assert.deepEqual(after.sessions.map((x) => x.sessionId), [id], "a deleted session is gone");
  const exit = await b.close();
  assert.equal(exit.code, 0);
});
