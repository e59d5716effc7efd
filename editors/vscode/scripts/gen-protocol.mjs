#!/usr/bin/env node
// Generates src/protocol.ts, the TypeScript types of the baton protocol, from the committed JSON
// Schema (protocol/schema/baton.schema.json) so that the extension and the schema cannot drift
// apart silently. With --check it writes nothing and fails when the committed file is stale, the
// way the Rust side checks the schema itself.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const schemaPath = join(here, "../../../protocol/schema/baton.schema.json");
const outPath = join(here, "../src/protocol.ts");

const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
const methods = schema.methods;

const banner = `/* eslint-disable */
// Generated from protocol/schema/baton.schema.json by scripts/gen-protocol.mjs; do not edit.
// Regenerate with \`npm run gen-protocol\` (in editors/vscode) after the schema changes.`;

// The document's root is not itself a type: compile only its definitions. json-schema-to-typescript
// emits definitions that the root reaches, so the root references every one of them.
const root = {
  title: "BatonProtocolDefinitions",
  type: "object",
  additionalProperties: false,
  properties: Object.fromEntries(
    Object.keys(schema.definitions).map((name) => [name, { $ref: `#/definitions/${name}` }]),
  ),
  definitions: schema.definitions,
};

const types = await compile(root, "BatonProtocolDefinitions", {
  bannerComment: banner,
  additionalProperties: false,
  declareExternallyReferenced: true,
  enableConstEnums: false,
  strictIndexSignatures: true,
  unknownAny: true,
  format: true,
  style: { singleQuote: false, printWidth: 100 },
});

// The methods table becomes three maps from method name to params/result types, which give the
// client typed `request`/`notify` helpers.
function typeOf(s) {
  if (s === undefined) return "void";
  if (s.$ref) return s.$ref.replace("#/definitions/", "");
  if (s.type === "null") return "null";
  if (s.type === "object") return "Record<string, never>";
  throw new Error(`unsupported method schema ${JSON.stringify(s)}`);
}
const section = (name, doc, direction, withResult) => {
  const lines = Object.entries(methods)
    .filter(([, m]) => m.direction === direction)
    .map(([method, m]) =>
      withResult
        ? `  ${JSON.stringify(method)}: { params: ${typeOf(m.params)}; result: ${typeOf(m.result)} };`
        : `  ${JSON.stringify(method)}: ${typeOf(m.params)};`,
    );
  return `/** ${doc} */\nexport interface ${name} {\n${lines.join("\n")}\n}\n`;
};
const tables = [
  `/** The protocol version these types describe. */\nexport const PROTOCOL_VERSION = ${schema.protocolVersion};\n`,
  section("ClientRequests", "Editor -> baton requests: params and result of each method.", "request", true),
  section(
    "Notifications",
    "Notifications in either direction (`thread/event` is baton -> editor): params of each method.",
    "notification",
    false,
  ),
  section("ServerRequests", "baton -> editor requests: params and result of each method.", "serverRequest", true),
].join("\n");

const text = `${types}\n${tables}`;

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(outPath, "utf8");
  } catch {
    // A missing file is as stale as a different one.
  }
  if (current !== text) {
    console.error(
      "editors/vscode/src/protocol.ts is stale: run `npm run gen-protocol` in editors/vscode and commit it",
    );
    process.exit(1);
  }
  console.log("src/protocol.ts is up to date");
} else {
  writeFileSync(outPath, text);
  console.log(`wrote ${outPath}`);
}
