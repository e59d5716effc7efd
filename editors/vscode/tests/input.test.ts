/**
 * The answer to `input/request`: the question flow (src/input.ts) with a stubbed UI, and the
 * client's handler driven with a fake request over a fake endpoint, checking the JSON reply.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BatonClient, type Disposable, type RpcEndpoint } from "../src/client";
import { askQuestions, OTHER, type InputUi, type PickItem } from "../src/input";
import type { InputRequestParams } from "../src/protocol";

const request: InputRequestParams = {
  threadId: "t",
  turnId: "u",
  requestId: "r",
  questions: [
    { id: "color", question: "Which color?", header: "Color", options: [{ label: "red", description: "warm" }, { label: "blue" }], multiSelect: false, allowOther: false, secret: false },
    { id: "name", question: "Name?", options: [{ label: "x" }], multiSelect: false, allowOther: true, secret: false },
    { id: "many", question: "Which ones?", options: [{ label: "a" }, { label: "b" }, { label: "c" }], multiSelect: true, allowOther: false, secret: false },
    { id: "key", question: "Key?", options: [], multiSelect: false, allowOther: true, secret: true },
  ],
};

/** A UI that answers from scripts and records what it was asked. */
function stubUi(picks: (string[] | string | undefined)[], texts: (string | undefined)[]) {
  const asked: { kind: string; items?: PickItem[]; options: Record<string, unknown> }[] = [];
  const ui: InputUi = {
    pick: async (items, options) => {
      asked.push({ kind: "pick", items, options });
      const want = picks.shift();
      if (want === undefined) return undefined;
      const chosen = (Array.isArray(want) ? want : [want]).map((l) => items.find((i) => i.label === l) as PickItem);
      return options.canPickMany ? chosen : chosen[0];
    },
    text: async (options) => {
      asked.push({ kind: "text", options });
      return texts.shift();
    },
  };
  return { ui, asked };
}

/** A fake endpoint that keeps the handlers the client registers. */
function fakeEndpoint() {
  const handlers = new Map<string, (...params: unknown[]) => unknown>();
  const none: Disposable = { dispose: () => undefined };
  const rpc: RpcEndpoint = {
    sendRequest: async () => {
      throw new Error("not connected");
    },
    sendNotification: async () => undefined,
    onNotification: (method, handler) => {
      handlers.set(method, handler);
      return none;
    },
    onRequest: (method, handler) => {
      handlers.set(method, handler);
      return none;
    },
  };
  return { rpc, handlers };
}

test("each question is asked: options, Other…, several at once, a secret input box", async () => {
  const { ui, asked } = stubUi(["blue", OTHER, ["a", "c"]], ["my own", "s3cret"]);
  const answers = await askQuestions(ui, request);
  assert.deepEqual(answers, { color: ["blue"], name: ["my own"], many: ["a", "c"], key: ["s3cret"] });
  assert.deepEqual(
    asked.map((a) => a.kind),
    ["pick", "pick", "text", "pick", "text"],
  );
  assert.deepEqual(asked[0]?.items, [{ label: "red", description: "warm" }, { label: "blue" }]);
  assert.equal(asked[0]?.options.title, "baton: Color (1/4)");
  assert.equal(asked[0]?.options.placeHolder, "Which color?");
  assert.equal(asked[0]?.options.canPickMany, false);
  assert.deepEqual(asked[1]?.items?.map((i) => i.label), ["x", OTHER]);
  assert.equal(asked[2]?.options.password, false);
  assert.equal(asked[3]?.options.canPickMany, true);
  assert.equal(asked[4]?.options.password, true, "a secret question uses a password box");
});

test("Escape on any prompt cancels the whole request", async () => {
  assert.equal(await askQuestions(stubUi([undefined], []).ui, request), undefined);
  assert.equal(await askQuestions(stubUi(["red", OTHER], [undefined]).ui, request), undefined);
});

test("the client answers input/request with {answers} or {cancelled: true}", async () => {
  const { rpc, handlers } = fakeEndpoint();
  const client = new BatonClient(rpc);
  const handle = handlers.get("input/request");
  assert.ok(handle, "the client registers input/request");
  // No handler yet: cancelled.
  assert.equal(JSON.stringify(await handle(request)), '{"cancelled":true}');
  const { ui } = stubUi(["red", "x", ["b"]], ["k"]);
  client.setInputHandler((r) => askQuestions(ui, r));
  assert.equal(
    JSON.stringify(await handle(request)),
    '{"answers":{"color":["red"],"name":["x"],"many":["b"],"key":["k"]}}',
  );
  client.setInputHandler(() => undefined);
  assert.equal(JSON.stringify(await handle(request)), '{"cancelled":true}');
  client.setInputHandler(() => {
    throw new Error("the UI broke");
  });
  assert.equal(JSON.stringify(await handle(request)), '{"cancelled":true}');
  client.dispose();
});
