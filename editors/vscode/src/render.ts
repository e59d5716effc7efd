/**
 * The chat view's logic, kept free of `vscode` so it is unit-tested on recorded event streams.
 *
 * A thread's events fold into a {@link ChatState}: a list of {@link Block}s (messages, reasoning,
 * commands, file changes, approvals, markers) plus the thread's provider, model, status and usage.
 * {@link applyEvent} is the only reducer; it ignores events it has already seen (by `seq`), so
 * history from `thread/read` and live notifications can overlap safely. {@link renderHtml} turns
 * the state into the webview's HTML (every piece of text escaped), {@link renderMarkdown} into a
 * plain transcript, and {@link statusText} into the status bar's `provider · model · state`.
 */
import type {
  ApprovalDecision,
  ApprovalKind,
  Event,
  FileChange,
  Item,
  ProviderId,
  ThreadStatus,
  UsageUpdated,
} from "./protocol";

/** One visual unit of the transcript. */
export type Block =
  | { kind: "user"; itemId?: string; text: string }
  | { kind: "assistant"; itemId?: string; text: string; done: boolean }
  | { kind: "reasoning"; itemId?: string; text: string; done: boolean }
  | {
      kind: "command";
      itemId?: string;
      command: string;
      cwd?: string;
      output: string;
      exitCode?: number;
      status?: string;
      done: boolean;
    }
  | { kind: "fileChange"; itemId?: string; changes: FileChange[]; status?: string; done: boolean }
  | { kind: "tool"; itemId?: string; itemType: string; label: string; text?: string; status?: string; done: boolean }
  | {
      kind: "approval";
      requestId: string;
      approvalKind: ApprovalKind;
      title: string;
      command?: string;
      decision?: ApprovalDecision;
      by?: string;
    }
  | { kind: "compaction"; summary?: string; failed?: string; done: boolean }
  | { kind: "marker"; tone: "info" | "warning" | "error"; text: string };

/** Everything the chat view shows about one thread. */
export interface ChatState {
  threadId?: string;
  provider?: ProviderId;
  model?: string;
  status?: ThreadStatus;
  /** The newest seq applied; events at or below it are duplicates. */
  lastSeq: number;
  blocks: Block[];
  usage?: UsageUpdated;
}

export function emptyChat(threadId?: string): ChatState {
  return { ...(threadId ? { threadId } : {}), lastSeq: 0, blocks: [] };
}

/** Folds a batch of events; returns whether anything changed. */
export function applyEvents(state: ChatState, events: readonly Event[]): boolean {
  let changed = false;
  for (const e of events) changed = applyEvent(state, e) || changed;
  return changed;
}

/** Blocks that a later event about the same item updates in place. */
type ItemBlock = Extract<Block, { itemId?: string }>;

function findItem(state: ChatState, itemId: string | null | undefined): ItemBlock | undefined {
  if (!itemId) return undefined;
  for (let i = state.blocks.length - 1; i >= 0; i--) {
    const b = state.blocks[i];
    if (b && "itemId" in b && b.itemId === itemId) return b;
  }
  return undefined;
}

/** The open block a delta without an item id belongs to: the newest one of that kind. */
function lastOpen<K extends Block["kind"]>(state: ChatState, kind: K): Extract<Block, { kind: K }> | undefined {
  const b = state.blocks[state.blocks.length - 1];
  if (b && b.kind === kind && "done" in b && !b.done) return b as Extract<Block, { kind: K }>;
  return undefined;
}

function itemBlock(item: Item, itemId: string | undefined, done: boolean): Block {
  const id = itemId ? { itemId } : {};
  switch (item.itemType) {
    case "user_message":
      return { kind: "user", ...id, text: item.text ?? "" };
    case "assistant_message":
      return { kind: "assistant", ...id, text: item.text ?? "", done };
    case "reasoning":
      return { kind: "reasoning", ...id, text: item.text ?? "", done };
    case "command":
      return {
        kind: "command",
        ...id,
        command: item.command ?? "",
        ...(item.cwd ? { cwd: item.cwd } : {}),
        output: item.output ?? "",
        ...(item.exitCode !== undefined && item.exitCode !== null ? { exitCode: item.exitCode } : {}),
        ...(item.status ? { status: item.status } : {}),
        done,
      };
    case "file_change":
      return {
        kind: "fileChange",
        ...id,
        changes: item.changes ?? [],
        ...(item.status ? { status: item.status } : {}),
        done,
      };
    case "compaction":
      return { kind: "compaction", done };
    default:
      return {
        kind: "tool",
        ...id,
        itemType: item.itemType,
        label: item.tool ?? item.itemType.replace(/_/g, " "),
        ...(item.text ? { text: item.text } : {}),
        ...(item.status ? { status: item.status } : {}),
        done,
      };
  }
}

/** Merges a completed (or re-started) item into its block, keeping streamed text when the item has none. */
function mergeItem(block: ItemBlock, item: Item, done: boolean): void {
  switch (block.kind) {
    case "user":
      if (item.text) block.text = item.text;
      return;
    case "assistant":
    case "reasoning":
      if (item.text) block.text = item.text;
      block.done = done;
      return;
    case "command":
      if (item.command) block.command = item.command;
      if (item.cwd) block.cwd = item.cwd;
      if (item.output) block.output = item.output;
      if (item.exitCode !== undefined && item.exitCode !== null) block.exitCode = item.exitCode;
      if (item.status) block.status = item.status;
      block.done = done;
      return;
    case "fileChange":
      if (item.changes) block.changes = item.changes;
      if (item.status) block.status = item.status;
      block.done = done;
      return;
    case "tool":
      if (item.text) block.text = item.text;
      if (item.status) block.status = item.status;
      block.done = done;
      return;
  }
}

const EXIT_REASONS: Record<string, string> = {
  stopped: "session stopped",
  detached: "session detached (the next turn starts a fresh provider thread)",
  idle: "session stopped while idle",
  crashed: "session crashed",
  shutdown: "baton shut down",
  deleted: "thread deleted",
};

/** Applies one event; returns false for a duplicate (seq already applied). */
export function applyEvent(state: ChatState, e: Event): boolean {
  if (e.seq <= state.lastSeq) return false;
  state.lastSeq = e.seq;
  state.threadId ??= e.threadId;
  state.provider = e.provider;
  const blocks = state.blocks;
  switch (e.type) {
    case "session.started":
      if (e.data.model) state.model = e.data.model;
      if (e.data.resumed) blocks.push({ kind: "marker", tone: "info", text: `session resumed on ${e.provider}` });
      break;
    case "session.exited": {
      const text = EXIT_REASONS[e.data.reason] ?? `session ended (${e.data.reason})`;
      blocks.push({
        kind: "marker",
        tone: e.data.reason === "crashed" ? "error" : "info",
        text: e.data.message ? `${text}: ${e.data.message}` : text,
      });
      break;
    }
    case "thread.status":
      state.status = e.data.status;
      break;
    case "turn.started":
      if (e.data.model) state.model = e.data.model;
      break;
    case "content.delta": {
      const existing = findItem(state, e.itemId);
      const kind = e.data.stream === "assistant" ? "assistant" : e.data.stream === "reasoning" ? "reasoning" : "command";
      const target = existing ?? lastOpen(state, kind);
      if (target && (target.kind === "assistant" || target.kind === "reasoning")) {
        target.text += e.data.delta;
      } else if (target && target.kind === "command") {
        target.output += e.data.delta;
      } else if (kind === "command") {
        blocks.push({ kind: "command", ...(e.itemId ? { itemId: e.itemId } : {}), command: "", output: e.data.delta, done: false });
      } else {
        blocks.push({ kind, ...(e.itemId ? { itemId: e.itemId } : {}), text: e.data.delta, done: false });
      }
      break;
    }
    case "item.started":
    case "item.completed": {
      const done = e.type === "item.completed";
      const existing = findItem(state, e.itemId);
      if (existing) mergeItem(existing, e.data, done);
      else if (e.data.itemType === "compaction") {
        // compaction.* events carry the summary; the item only marks the span, unless it stands alone.
        const open = [...blocks].reverse().find((b) => b.kind === "compaction");
        if (!open) blocks.push(itemBlock(e.data, e.itemId ?? undefined, done));
      } else blocks.push(itemBlock(e.data, e.itemId ?? undefined, done));
      break;
    }
    case "approval.requested":
      blocks.push({
        kind: "approval",
        requestId: e.data.requestId,
        approvalKind: e.data.kind,
        title: e.data.title ?? e.data.command ?? `approve a ${e.data.kind}`,
        ...(e.data.command ? { command: e.data.command } : {}),
      });
      break;
    case "approval.resolved": {
      const b = blocks.find((x) => x.kind === "approval" && x.requestId === e.data.requestId);
      if (b && b.kind === "approval") {
        b.decision = e.data.decision;
        if (e.data.by) b.by = e.data.by;
      }
      break;
    }
    case "usage.updated":
      state.usage = e.data;
      break;
    case "turn.completed":
      for (const b of blocks) if ("done" in b) b.done = true;
      if (e.data.state !== "completed") {
        blocks.push({
          kind: "marker",
          tone: e.data.state === "failed" ? "error" : "warning",
          text: `turn ${e.data.state}${e.data.error ? `: ${e.data.error}` : ""}`,
        });
      }
      break;
    case "compaction.started":
      blocks.push({ kind: "compaction", done: false });
      break;
    case "compaction.completed":
    case "compaction.failed": {
      let b = [...blocks].reverse().find((x) => x.kind === "compaction" && !x.done);
      if (!b) {
        b = { kind: "compaction", done: false };
        blocks.push(b);
      }
      if (b.kind === "compaction") {
        b.done = true;
        if (e.type === "compaction.completed") b.summary = e.data.summary;
        else b.failed = e.data.error;
      }
      break;
    }
    case "handoff.started":
      blocks.push({ kind: "marker", tone: "info", text: `handing off ${e.data.from} → ${e.data.to} (${e.data.strategy})` });
      break;
    case "handoff.completed":
      blocks.push({
        kind: "marker",
        tone: "info",
        text: `now on ${e.data.to} (handed over from ${e.data.from}: ${e.data.strategy}, ${e.data.summaryChars} chars)`,
      });
      break;
    case "handoff.failed":
      blocks.push({ kind: "marker", tone: "error", text: `handoff ${e.data.from} → ${e.data.to} failed: ${e.data.error}` });
      break;
    case "runtime.warning":
      blocks.push({ kind: "marker", tone: "warning", text: e.data.message });
      break;
    case "runtime.error":
      blocks.push({ kind: "marker", tone: "error", text: `${e.data.class} error: ${e.data.message}` });
      break;
  }
  return true;
}

/** `provider · model · state`, for the status bar. */
export function statusText(state: Pick<ChatState, "provider" | "model" | "status">): string {
  return [state.provider ?? "baton", state.model, state.status ?? "unknown"].filter(Boolean).join(" · ");
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/**
 * Message text as HTML: fenced code blocks become `<pre><code>`, the rest keeps its line breaks.
 * Deliberately no full Markdown: the text is the agent's, and escaping all of it is what keeps the
 * webview safe.
 */
export function textToHtml(text: string): string {
  const parts = text.split(/^```[^\n]*\n?/m);
  return parts
    .map((part, i) =>
      i % 2 === 1
        ? `<pre><code>${escapeHtml(part.replace(/\n$/, ""))}</code></pre>`
        : part
          ? `<div class="text">${escapeHtml(part)}</div>`
          : "",
    )
    .join("");
}

const DECISIONS: Record<ApprovalDecision, string> = {
  accept: "accepted",
  acceptForSession: "accepted for the session",
  decline: "declined",
  cancel: "cancelled",
};

function blockHtml(b: Block): string {
  const e = escapeHtml;
  switch (b.kind) {
    case "user":
      return `<div class="block user"><div class="who">You</div>${textToHtml(b.text)}</div>`;
    case "assistant":
      return `<div class="block assistant${b.done ? "" : " streaming"}"><div class="who">Agent</div>${textToHtml(b.text)}</div>`;
    case "reasoning":
      return `<details class="block reasoning"><summary>Reasoning${b.done ? "" : "…"}</summary>${textToHtml(b.text)}</details>`;
    case "command": {
      const state =
        b.exitCode !== undefined
          ? `<span class="badge ${b.exitCode === 0 ? "ok" : "fail"}">exit ${b.exitCode}</span>`
          : b.done
            ? `<span class="badge">${e(b.status ?? "done")}</span>`
            : `<span class="badge running">running</span>`;
      const cwd = b.cwd ? `<div class="cwd">in ${e(b.cwd)}</div>` : "";
      const output = b.output ? `<pre class="output">${e(b.output)}</pre>` : "";
      return `<details class="block command"${b.done ? "" : " open"}><summary><code>$ ${e(b.command)}</code> ${state}</summary>${cwd}${output}</details>`;
    }
    case "fileChange": {
      const rows = b.changes
        .map(
          (c) =>
            `<li><span class="kind ${e(c.kind)}">${e(c.kind)}</span> <code>${e(c.path)}</code>${
              c.diff ? `<details><summary>diff</summary><pre class="diff">${e(c.diff)}</pre></details>` : ""
            }</li>`,
        )
        .join("");
      const status = b.status ? ` <span class="badge">${e(b.status)}</span>` : "";
      return `<div class="block file-change"><div class="who">File changes${status}</div><ul>${rows}</ul></div>`;
    }
    case "tool": {
      const status = b.status ? ` <span class="badge">${e(b.status)}</span>` : "";
      return `<div class="block tool"><span class="who">${e(b.label)}</span>${status}${b.text ? textToHtml(b.text) : ""}</div>`;
    }
    case "approval": {
      const decided = b.decision
        ? `<span class="badge ${b.decision.startsWith("accept") ? "ok" : "fail"}">${DECISIONS[b.decision]}${b.by ? ` (${e(b.by)})` : ""}</span>`
        : `<span class="badge running">waiting for you</span>`;
      return `<div class="block approval"><div class="who">Approval: ${e(b.title)}</div>${
        b.command ? `<pre><code>${e(b.command)}</code></pre>` : ""
      }${decided}</div>`;
    }
    case "compaction":
      if (b.failed) return `<div class="marker error">compaction failed: ${e(b.failed)}</div>`;
      if (!b.done) return `<div class="marker info">compacting…</div>`;
      return `<details class="marker info compaction"><summary>context compacted</summary>${textToHtml(b.summary ?? "")}</details>`;
    case "marker":
      return `<div class="marker ${b.tone}">${e(b.text)}</div>`;
  }
}

/** The transcript as an HTML fragment (the webview wraps it in its page). */
export function renderHtml(state: ChatState): string {
  return state.blocks.map(blockHtml).join("\n");
}

/** The transcript as Markdown, e.g. to copy a conversation out. */
export function renderMarkdown(state: ChatState): string {
  const out: string[] = [];
  const fence = (s: string) => `\`\`\`\n${s.replace(/\n$/, "")}\n\`\`\``;
  for (const b of state.blocks) {
    switch (b.kind) {
      case "user":
        out.push(`**You:** ${b.text}`);
        break;
      case "assistant":
        out.push(`**Agent:** ${b.text}`);
        break;
      case "reasoning":
        out.push(`> _reasoning:_ ${b.text.replace(/\n/g, "\n> ")}`);
        break;
      case "command":
        out.push(
          `\`$ ${b.command}\`${b.exitCode !== undefined ? ` (exit ${b.exitCode})` : ""}${b.output ? `\n${fence(b.output)}` : ""}`,
        );
        break;
      case "fileChange":
        out.push(b.changes.map((c) => `- ${c.kind} \`${c.path}\``).join("\n"));
        break;
      case "tool":
        out.push(`_${b.label}_${b.text ? `: ${b.text}` : ""}`);
        break;
      case "approval":
        out.push(`_approval: ${b.title} → ${b.decision ? DECISIONS[b.decision] : "pending"}_`);
        break;
      case "compaction":
        out.push(b.failed ? `_compaction failed: ${b.failed}_` : b.done ? "_context compacted_" : "_compacting…_");
        break;
      case "marker":
        out.push(`_${b.text}_`);
        break;
    }
  }
  return out.join("\n\n");
}
