/**
 * The chat view's logic, kept free of `vscode` so it is unit-tested on recorded event streams.
 *
 * A thread's events fold into a {@link ChatState}: a list of {@link Block}s (messages, reasoning,
 * commands, file changes, approvals, markers) plus the thread's provider, model, status and usage.
 * {@link applyEvent} is the only reducer; it ignores events it has already seen (by `seq`), so
 * history from `thread/read` and live notifications can overlap safely. {@link renderHtml} turns
 * the state into the webview's HTML (every piece of text escaped), {@link renderMarkdown} into a
 * plain transcript, and {@link statusText} into the status bar's `provider · model · state · N% ctx`.
 *
 * Some events replace what an earlier one showed instead of adding to it: a turn's plan
 * (`turn.plan`) and aggregated diff (`turn.diff`) are one block per turn, updated in place, and an
 * item's progress (`item.progress`) is one line per item.
 */
import type {
  ApprovalDecision,
  ApprovalKind,
  Event,
  FileChange,
  InputQuestion,
  Item,
  PlanStep,
  ProviderId,
  RateLimitUpdated,
  ThreadStatus,
  UsageUpdated,
} from "./protocol";

/** One visual unit of the transcript. */
export type Block =
  | { kind: "user"; itemId?: string; text: string }
  | { kind: "assistant"; itemId?: string; text: string; done: boolean }
  | { kind: "reasoning"; itemId?: string; text: string; done: boolean; summary?: boolean }
  | { kind: "proposedPlan"; itemId?: string; text: string; done: boolean }
  | {
      kind: "command";
      itemId?: string;
      command: string;
      cwd?: string;
      output: string;
      exitCode?: number;
      status?: string;
      error?: string;
      progress?: string;
      done: boolean;
    }
  | { kind: "fileChange"; itemId?: string; changes: FileChange[]; status?: string; error?: string; done: boolean }
  | {
      kind: "tool";
      itemId?: string;
      itemType: string;
      label: string;
      text?: string;
      output?: string;
      status?: string;
      error?: string;
      progress?: string;
      done: boolean;
    }
  | { kind: "progress"; itemId?: string; text: string }
  | { kind: "plan"; turnId?: string; steps: PlanStep[]; explanation?: string }
  | { kind: "diff"; turnId?: string; diff: string }
  | { kind: "rateLimit"; turnId?: string; text: string; rejected: boolean }
  | {
      kind: "input";
      requestId: string;
      questions: InputQuestion[];
      answers?: Record<string, string[]>;
      cancelled?: boolean;
      by?: string;
    }
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
  /** The account's rate limits as last reported. */
  rateLimits?: RateLimitUpdated;
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

/** The block of a turn that a newer event of the same kind replaces. */
function findTurnBlock<K extends "plan" | "diff" | "rateLimit">(
  state: ChatState,
  kind: K,
  turnId: string | undefined,
): Extract<Block, { kind: K }> | undefined {
  for (let i = state.blocks.length - 1; i >= 0; i--) {
    const b = state.blocks[i];
    if (b && b.kind === kind && (b as { turnId?: string }).turnId === turnId) return b as Extract<Block, { kind: K }>;
  }
  return undefined;
}

/** `⚙ server/tool` and friends: the label of a tool-like item. */
function toolLabel(item: Item): string {
  if (item.itemType === "mcp_tool_call") return `${item.server ? `${item.server}/` : ""}${item.tool ?? "tool"}`;
  if (item.itemType === "subagent") return `subagent${item.tool ? ` ${item.tool}` : ""}`;
  return item.tool ?? item.itemType.replace(/_/g, " ");
}

const TOOL_TYPES = new Set(["tool_call", "mcp_tool_call", "subagent"]);

/** `42% of 300 min, resets 14:05` for each window, `; `-joined, with a non-`allowed` status. */
export function rateLimitText(r: RateLimitUpdated, now: number = Date.now()): string {
  const hm = (d: Date) => `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const parts = r.limits.map((l) => {
    let s = l.name;
    if (l.usedPercent !== undefined && l.usedPercent !== null) s += ` ${Math.round(l.usedPercent)}%`;
    if (l.windowMinutes !== undefined && l.windowMinutes !== null) {
      s += `${l.usedPercent !== undefined && l.usedPercent !== null ? " of" : ""} ${l.windowMinutes} min`;
    }
    if (l.resetsAt !== undefined && l.resetsAt !== null) {
      const at = new Date(l.resetsAt * 1000);
      const far = l.resetsAt * 1000 - now >= 20 * 3600 * 1000;
      s += `, resets ${far ? `${days[at.getDay()]} ` : ""}${hm(at)}`;
    }
    return s;
  });
  const status = r.status && r.status !== "allowed" ? ` (${r.status})` : "";
  return `rate limit: ${parts.length ? parts.join("; ") : "?"}${status}`;
}

/** Context fill in percent (`contextTokens / contextWindow`), when the provider reported both. */
export function contextPercent(usage: UsageUpdated | undefined): number | undefined {
  const used = usage?.contextTokens;
  const window = usage?.contextWindow;
  if (used === undefined || used === null || !window || window <= 0) return undefined;
  return Math.round((used * 100) / window);
}

/** The answers of a resolved input as shown: secret ones as •••, by question order. */
export function inputAnswerText(b: Extract<Block, { kind: "input" }>): string {
  if (b.cancelled) return `cancelled${b.by ? ` (${b.by})` : ""}`;
  if (!b.answers) return "waiting for you";
  const answers = b.answers;
  const ids = [...b.questions.map((q) => q.id), ...Object.keys(answers).filter((k) => !b.questions.some((q) => q.id === k)).sort()];
  const shown = ids.filter((id) => answers[id] !== undefined);
  const parts = shown.map((id) => {
    const q = b.questions.find((x) => x.id === id);
    const text = q?.secret ? "•••" : (answers[id] ?? []).join(", ");
    return shown.length > 1 ? `${q?.header || q?.question || id}: ${text}` : text;
  });
  return parts.length ? parts.join("; ") : "(no answer)";
}

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
    case "plan":
      return { kind: "proposedPlan", ...id, text: item.text ?? "", done };
    case "command":
      return {
        kind: "command",
        ...id,
        command: item.command ?? "",
        ...(item.cwd ? { cwd: item.cwd } : {}),
        output: item.output ?? "",
        ...(item.exitCode !== undefined && item.exitCode !== null ? { exitCode: item.exitCode } : {}),
        ...(item.status ? { status: item.status } : {}),
        ...(item.error ? { error: item.error } : {}),
        done,
      };
    case "file_change":
      return {
        kind: "fileChange",
        ...id,
        changes: item.changes ?? [],
        ...(item.status ? { status: item.status } : {}),
        ...(item.error ? { error: item.error } : {}),
        done,
      };
    case "compaction":
      return { kind: "compaction", done };
    default:
      return {
        kind: "tool",
        ...id,
        itemType: item.itemType,
        label: toolLabel(item),
        ...(item.text ? { text: item.text } : {}),
        ...(item.output ? { output: item.output } : {}),
        ...(item.status ? { status: item.status } : {}),
        ...(item.error ? { error: item.error } : {}),
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
    case "proposedPlan":
      if (item.text) block.text = item.text;
      block.done = done;
      return;
    case "command":
      if (item.command) block.command = item.command;
      if (item.cwd) block.cwd = item.cwd;
      if (item.output) block.output = item.output;
      if (item.exitCode !== undefined && item.exitCode !== null) block.exitCode = item.exitCode;
      if (item.status) block.status = item.status;
      if (item.error) block.error = item.error;
      block.done = done;
      if (done) delete block.progress;
      return;
    case "fileChange":
      if (item.changes) block.changes = item.changes;
      if (item.status) block.status = item.status;
      if (item.error) block.error = item.error;
      block.done = done;
      return;
    case "tool":
      if (item.tool || item.server) block.label = toolLabel(item);
      if (item.text) block.text = item.text;
      if (item.output && !block.output) block.output = item.output;
      if (item.status) block.status = item.status;
      if (item.error) block.error = item.error;
      block.done = done;
      if (done) delete block.progress;
      return;
    case "progress":
      return;
  }
}

/** Which block a stream's deltas go to. */
const STREAM_KINDS: Record<string, "assistant" | "reasoning" | "command" | "tool" | "proposedPlan"> = {
  assistant: "assistant",
  reasoning: "reasoning",
  reasoning_summary: "reasoning",
  command_output: "command",
  tool_output: "tool",
  plan: "proposedPlan",
};

const EXIT_REASONS: Record<string, string> = {
  stopped: "session stopped",
  detached: "session detached (the next turn starts a fresh provider thread)",
  idle: "session stopped while idle",
  crashed: "session crashed",
  shutdown: "baton shut down",
  deleted: "thread deleted",
  takenOver: "session handed over",
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
      const stream = e.data.stream;
      const kind = STREAM_KINDS[stream];
      const existing = findItem(state, e.itemId);
      const target = existing && existing.kind !== "progress" ? existing : lastOpen(state, kind);
      const id = e.itemId ? { itemId: e.itemId } : {};
      if (target && (target.kind === "assistant" || target.kind === "reasoning" || target.kind === "proposedPlan")) {
        target.text += e.data.delta;
      } else if (target && target.kind === "command") {
        target.output += e.data.delta;
      } else if (target && target.kind === "tool") {
        target.output = (target.output ?? "") + e.data.delta;
      } else if (kind === "command") {
        blocks.push({ kind: "command", ...id, command: "", output: e.data.delta, done: false });
      } else if (kind === "tool") {
        blocks.push({ kind: "tool", ...id, itemType: "tool_call", label: "tool", output: e.data.delta, done: false });
      } else if (kind === "reasoning") {
        blocks.push({ kind, ...id, text: e.data.delta, done: false, ...(stream === "reasoning_summary" ? { summary: true } : {}) });
      } else {
        blocks.push({ kind, ...id, text: e.data.delta, done: false });
      }
      break;
    }
    case "item.progress": {
      const existing = findItem(state, e.itemId);
      if (existing && (existing.kind === "tool" || existing.kind === "command")) existing.progress = e.data.message;
      else if (existing && existing.kind === "progress") existing.text = e.data.message;
      else blocks.push({ kind: "progress", ...(e.itemId ? { itemId: e.itemId } : {}), text: e.data.message });
      break;
    }
    case "turn.plan": {
      const turnId = e.turnId ?? undefined;
      const b = findTurnBlock(state, "plan", turnId);
      const explanation = e.data.explanation ? { explanation: e.data.explanation } : {};
      if (b) {
        b.steps = e.data.steps;
        if (e.data.explanation) b.explanation = e.data.explanation;
        else delete b.explanation;
      } else blocks.push({ kind: "plan", ...(turnId ? { turnId } : {}), steps: e.data.steps, ...explanation });
      break;
    }
    case "turn.diff": {
      const turnId = e.turnId ?? undefined;
      const b = findTurnBlock(state, "diff", turnId);
      if (b) b.diff = e.data.unifiedDiff;
      else blocks.push({ kind: "diff", ...(turnId ? { turnId } : {}), diff: e.data.unifiedDiff });
      break;
    }
    case "rate_limit.updated": {
      state.rateLimits = e.data;
      const turnId = e.turnId ?? undefined;
      const text = rateLimitText(e.data, e.at);
      const rejected = e.data.status === "rejected";
      const b = findTurnBlock(state, "rateLimit", turnId);
      if (b) {
        b.text = text;
        b.rejected = rejected;
        break;
      }
      // Providers repeat their limits after every request: one line per turn, none when unchanged.
      const previous = [...blocks].reverse().find((x) => x.kind === "rateLimit");
      if (previous && previous.kind === "rateLimit" && previous.text === text) break;
      blocks.push({ kind: "rateLimit", ...(turnId ? { turnId } : {}), text, rejected });
      break;
    }
    case "model.rerouted": {
      if (e.data.toModel) state.model = e.data.toModel;
      const reason = e.data.reason ? ` (${e.data.reason})` : "";
      blocks.push({
        kind: "marker",
        tone: "warning",
        text: `model rerouted: ${e.data.fromModel ?? "?"} → ${e.data.toModel ?? "?"}${reason}`,
      });
      break;
    }
    case "input.requested":
      blocks.push({ kind: "input", requestId: e.data.requestId, questions: e.data.questions });
      break;
    case "input.resolved": {
      let b = blocks.find((x) => x.kind === "input" && x.requestId === e.data.requestId);
      if (!b) {
        b = { kind: "input", requestId: e.data.requestId, questions: [] };
        blocks.push(b);
      }
      if (b.kind === "input") {
        const answers: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(e.data.answers ?? {})) if (v) answers[k] = v;
        b.answers = answers;
        b.cancelled = e.data.cancelled;
        if (e.data.by) b.by = e.data.by;
      }
      break;
    }
    case "item.started":
    case "item.completed": {
      const done = e.type === "item.completed";
      const existing = findItem(state, e.itemId);
      if (existing?.kind === "progress") {
        // Progress came first: the item takes the progress line's place and keeps its message.
        const b = itemBlock(e.data, e.itemId ?? undefined, done);
        if (!done && (b.kind === "tool" || b.kind === "command")) b.progress = existing.text;
        blocks[blocks.indexOf(existing)] = b;
      } else if (existing) mergeItem(existing, e.data, done);
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

/** `provider · model · state`, plus `N% ctx` once the context fill is known, for the status bar. */
export function statusText(state: Pick<ChatState, "provider" | "model" | "status"> & { usage?: UsageUpdated }): string {
  const pct = contextPercent(state.usage);
  return [state.provider ?? "baton", state.model, state.status ?? "unknown", pct !== undefined ? `${pct}% ctx` : undefined]
    .filter(Boolean)
    .join(" · ");
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

const PLAN_MARKS: Record<string, string> = { completed: "[x]", inProgress: "[&gt;]", pending: "[ ]" };

/** Files, added and removed lines of a unified diff. */
export function diffStats(diff: string): { files: number; added: number; removed: number } {
  let files = 0;
  let plusFiles = 0;
  let added = 0;
  let removed = 0;
  for (const l of diff.split("\n")) {
    if (l.startsWith("diff --git ")) files++;
    else if (l.startsWith("+++ ")) plusFiles++;
    else if (l.startsWith("--- ")) continue;
    else if (l.startsWith("+")) added++;
    else if (l.startsWith("-")) removed++;
  }
  return { files: files || plusFiles, added, removed };
}

/** A unified diff as escaped HTML with its added, removed and hunk lines marked. */
function diffHtml(diff: string): string {
  return diff
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => {
      const cls =
        l.startsWith("+++ ") || l.startsWith("--- ") || l.startsWith("diff ")
          ? "file"
          : l.startsWith("+")
            ? "add"
            : l.startsWith("-")
              ? "del"
              : l.startsWith("@@")
                ? "hunk"
                : "";
      return cls ? `<span class="${cls}">${escapeHtml(l)}</span>` : escapeHtml(l);
    })
    .join("\n");
}

function blockHtml(b: Block): string {
  const e = escapeHtml;
  switch (b.kind) {
    case "user":
      return `<div class="block user"><div class="who">You</div>${textToHtml(b.text)}</div>`;
    case "assistant":
      return `<div class="block assistant${b.done ? "" : " streaming"}"><div class="who">Agent</div>${textToHtml(b.text)}</div>`;
    case "reasoning":
      return `<details class="block reasoning"><summary>${b.summary ? "Reasoning summary" : "Reasoning"}${b.done ? "" : "…"}</summary>${textToHtml(b.text)}</details>`;
    case "proposedPlan":
      return `<div class="block proposed-plan${b.done ? "" : " streaming"}"><div class="who">Proposed plan</div>${textToHtml(b.text)}</div>`;
    case "plan": {
      const done = b.steps.filter((s) => s.status === "completed").length;
      const rows = b.steps
        .map((s) => `<li class="step ${e(s.status)}"><code>${PLAN_MARKS[s.status] ?? "[ ]"}</code> ${e(s.text)}</li>`)
        .join("");
      const why = b.explanation ? `<div class="explanation">${e(b.explanation)}</div>` : "";
      return `<div class="block plan"><div class="who">Plan (${done}/${b.steps.length} done)</div>${why}<ul class="checklist">${rows}</ul></div>`;
    }
    case "diff": {
      const st = diffStats(b.diff);
      return `<details class="block diff"><summary>Diff: ${st.files} file${st.files === 1 ? "" : "s"} changed, +${st.added} -${st.removed}</summary><pre class="diff">${diffHtml(b.diff)}</pre></details>`;
    }
    case "progress":
      return `<div class="progress">… ${e(b.text)}</div>`;
    case "rateLimit":
      return `<div class="rate-limit${b.rejected ? " error" : ""}">${e(b.text)}</div>`;
    case "input": {
      const qs = b.questions
        .map((q) => {
          const opts = q.options?.length ? ` <span class="options">[${q.options.map((o) => e(o.label)).join(" / ")}]</span>` : "";
          return `<li>${q.header ? `<b>${e(q.header)}:</b> ` : ""}${e(q.question)}${opts}</li>`;
        })
        .join("");
      const answered = b.cancelled ? "fail" : b.answers ? "ok" : "running";
      return `<div class="block input"><div class="who">Question from the agent</div><ul>${qs}</ul><span class="badge ${answered}">${e(
        inputAnswerText(b),
      )}</span></div>`;
    }
    case "command": {
      const state =
        b.exitCode !== undefined
          ? `<span class="badge ${b.exitCode === 0 ? "ok" : "fail"}">exit ${b.exitCode}</span>`
          : b.done
            ? `<span class="badge">${e(b.status ?? "done")}</span>`
            : `<span class="badge running">running</span>`;
      const cwd = b.cwd ? `<div class="cwd">in ${e(b.cwd)}</div>` : "";
      const output = b.output ? `<pre class="output">${e(b.output)}</pre>` : "";
      const progress = b.progress && !b.done ? `<div class="progress">… ${e(b.progress)}</div>` : "";
      const err = b.error ? `<div class="error">${e(b.error)}</div>` : "";
      return `<details class="block command"${b.done ? "" : " open"}><summary><code>$ ${e(b.command)}</code> ${state}</summary>${cwd}${output}${progress}${err}</details>`;
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
      const err = b.error ? `<div class="error">${e(b.error)}</div>` : "";
      return `<div class="block file-change"><div class="who">File changes${status}</div><ul>${rows}</ul>${err}</div>`;
    }
    case "tool": {
      const status = b.status ? ` <span class="badge${b.error || b.status === "failed" ? " fail" : ""}">${e(b.status)}</span>` : "";
      const icon = TOOL_TYPES.has(b.itemType) ? "⚙ " : "";
      const output = b.output ? `<pre class="output">${e(b.output)}</pre>` : "";
      const progress = b.progress && !b.done ? `<div class="progress">… ${e(b.progress)}</div>` : "";
      const err = b.error ? `<div class="error">${e(b.error)}</div>` : "";
      return `<div class="block tool"><span class="who">${icon}${e(b.label)}</span>${status}${b.text ? textToHtml(b.text) : ""}${output}${progress}${err}</div>`;
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
        out.push(`> _${b.summary ? "reasoning summary" : "reasoning"}:_ ${b.text.replace(/\n/g, "\n> ")}`);
        break;
      case "proposedPlan":
        out.push(`**Proposed plan:**\n${b.text}`);
        break;
      case "plan":
        out.push(
          [
            `**Plan:**${b.explanation ? ` ${b.explanation}` : ""}`,
            ...b.steps.map((s) => `- ${s.status === "completed" ? "[x]" : s.status === "inProgress" ? "[>]" : "[ ]"} ${s.text}`),
          ].join("\n"),
        );
        break;
      case "diff":
        out.push(`\`\`\`diff\n${b.diff.replace(/\n$/, "")}\n\`\`\``);
        break;
      case "progress":
        out.push(`_… ${b.text}_`);
        break;
      case "rateLimit":
        out.push(`_${b.text}_`);
        break;
      case "input":
        out.push(`_question: ${b.questions.map((q) => q.question).join(" / ")} → ${inputAnswerText(b)}_`);
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
        out.push(
          `_${TOOL_TYPES.has(b.itemType) ? "⚙ " : ""}${b.label}_${b.text ? `: ${b.text}` : ""}${b.error ? ` (error: ${b.error})` : ""}`,
        );
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
