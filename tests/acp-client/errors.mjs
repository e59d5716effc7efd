// Bad input gets ACP JSON-RPC errors, never a crash: requests before initialize, unknown
// session ids, malformed params, unknown methods and config options, content baton cannot take,
// a line that is not JSON. Afterwards the agent still works.
import { agentText, assert, expectError, log, run, sleep } from "./lib.mjs";

await run("errors", async (make) => {
  const a = make();
  await expectError(a.newSession(), -32600, "session/new before initialize");
  await a.initialize();

  const ghost = "01000000-0000-7000-8000-000000000000";
  const cwd = process.env.WORK_DIR;
  await expectError(a.prompt(ghost, "hello"), -32002, "prompt on an unknown session");
  await expectError(a.request("session/load", { sessionId: ghost, cwd, mcpServers: [] }), -32002, "load unknown");
  await expectError(a.request("session/resume", { sessionId: ghost, cwd, mcpServers: [] }), -32002, "resume unknown");
  await expectError(
    a.request("session/set_config_option", { sessionId: ghost, configId: "provider", value: "claude" }),
    -32002,
    "set_config_option on an unknown session",
  );
  await expectError(a.request("session/set_mode", { sessionId: ghost, modeId: "never" }), -32002, "set_mode unknown");
  // The SDK itself treats -32002 from close/delete as success (both are idempotent).
  assert.deepEqual(await a.request("session/close", { sessionId: ghost }), {});
  assert.deepEqual(await a.request("session/delete", { sessionId: ghost }), {});

  await expectError(a.request("session/new", { mcpServers: [] }), -32602, "session/new without cwd");
  await expectError(a.request("session/new", { cwd: "relative/dir", mcpServers: [] }), -32602, "a relative cwd");
  await expectError(a.request("session/new", { cwd: "/nonexistent/dir", mcpServers: [] }), -32602, "a missing cwd");
  await expectError(
    a.request("session/new", { cwd, mcpServers: [], _meta: { baton: { provider: "nosuchagent" } } }),
    -32602,
    "an unknown provider",
  );
  await expectError(a.request("session/prompt", { sessionId: 7, prompt: "nope" }), -32602, "a malformed prompt");
  await expectError(a.request("session/frobnicate", {}), -32601, "an unknown method");

  const s = await a.newSession();
  const id = s.sessionId;
  await expectError(
    a.request("session/prompt", { sessionId: id, prompt: [{ type: "image", data: "AA==", mimeType: "image/png" }] }),
    -32602,
    "an image prompt",
  );
  await expectError(a.request("session/prompt", { sessionId: id, prompt: [] }), -32602, "an empty prompt");
  await expectError(
    a.request("session/set_config_option", { sessionId: id, configId: "colour", value: "red" }),
    -32602,
    "an unknown config option",
  );
  await expectError(a.request("session/set_mode", { sessionId: id, modeId: "yolo" }), -32602, "an unknown mode");
  const bad = await expectError(
    a.request("session/set_config_option", { sessionId: id, configId: "provider", value: "nosuchagent" }),
    -32602,
    "switching to an unknown provider",
  );
  log("unknown provider:", bad.message);

  // A turn the provider fails is an error answer carrying the provider's message.
  const failed = await expectError(a.prompt(id, "FAIL_529"), -32603, "a failed turn");
  log("failed turn:", failed.message);
  assert.match(failed.message, /the turn failed/);

  // A line that is not JSON is answered with a parse error (id null); the connection goes on.
  a.child.stdin.write("this is not json\n");
  await sleep(200);
  const r = await a.prompt(id, "still alive?");
  assert.equal(r.stopReason, "end_turn");
  assert.match(agentText(a.take(id)), /mock reply to: still alive\?/);
  assert.equal(a.child.exitCode, null, "baton acp is still running");
  const exit = await a.close();
  assert.equal(exit.code, 0);
});
