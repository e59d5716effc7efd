/**
 * The VS Code side of baton: spawns the sidecar through `vscode-languageclient` (so VS Code's
 * own machinery handles the process, the LSP framing, the handshake and the stderr log) and maps
 * the protocol onto native UI: a chat webview per thread, a Threads tree in its own activity-bar
 * container, commands mirroring the Neovim plugin, modal approvals, quick picks for the agent's
 * questions, a status bar item and an output channel.
 *
 * Everything protocol-shaped lives in `client.ts` and everything about how a transcript looks in
 * `render.ts`; this file only wires them to `vscode`, which is why it is the one part of the
 * extension the Node tests cannot reach.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, type LanguageClientOptions, type ServerOptions, TransportKind } from "vscode-languageclient/node";
import { BatonClient } from "./client";
import { askQuestions, type InputUi, type PickItem } from "./input";
import type {
  ApprovalDecision,
  ApprovalRequestParams,
  Event,
  InitializeResult,
  InputRequestParams,
  ProviderId,
  Thread,
  TurnMode,
} from "./protocol";
import { applyEvents, type ChatState, emptyChat, rateLimitText, renderHtml, statusText } from "./render";

let extension: BatonExtension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  extension = new BatonExtension(context);
}

export async function deactivate(): Promise<void> {
  await extension?.dispose();
  extension = undefined;
}

/** Where the baton binary comes from: the setting, else the bundled copy, else PATH. */
export function resolveBatonPath(setting: string | undefined, extensionPath: string): string {
  if (setting && setting.trim()) return setting.trim();
  const bundled = path.join(extensionPath, "bin", process.platform === "win32" ? "baton.exe" : "baton");
  if (existsSync(bundled)) return bundled;
  return "baton";
}

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration("baton");
}

function workspaceCwd(): string | undefined {
  const editor = vscode.window.activeTextEditor;
  const folder =
    (editor && vscode.workspace.getWorkspaceFolder(editor.document.uri)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder?.uri.fsPath;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Error -32016: another window (another baton on the same database) drives the thread. */
const THREAD_LEASED = -32016;

/** The thread of a -32016 error, if `e` is one. */
function leasedThread(e: unknown): string | undefined {
  const err = e as { code?: number; data?: { threadId?: string } } | undefined;
  return err?.code === THREAD_LEASED ? err.data?.threadId : undefined;
}

/**
 * Shows a command's error. A thread another window drives gets its own message, which names that
 * window and offers to take the thread over here.
 */
async function showError(e: unknown): Promise<void> {
  const threadId = leasedThread(e);
  if (!threadId) {
    void vscode.window.showErrorMessage(`baton: ${errorText(e)}`);
    return;
  }
  const choice = await vscode.window.showWarningMessage(`baton: ${errorText(e)}`, "Take Over Here");
  if (choice === "Take Over Here") await vscode.commands.executeCommand("baton.takeover", threadId);
}

class BatonExtension implements vscode.Disposable {
  private readonly output = vscode.window.createOutputChannel("baton");
  private readonly statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  private readonly tree = new ThreadsTree(this);
  private readonly panels = new Map<string, ChatPanel>();
  private lsp: LanguageClient | undefined;
  private client: Promise<BatonClient> | undefined;
  private initializeResult: InitializeResult | undefined;
  /** The thread commands act on: the focused chat panel's, else the last one used. */
  private currentThreadId: string | undefined;
  /** Latest known state of each thread, for the status bar when no panel is open. */
  private readonly states = new Map<string, ChatState>();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.statusItem.command = "baton.threads";
    this.statusItem.text = "$(comment-discussion) baton";
    this.statusItem.tooltip = "baton: open a thread";
    this.statusItem.show();
    const reg = (id: string, fn: (...args: never[]) => unknown) =>
      vscode.commands.registerCommand(id, async (...args: never[]) => {
        try {
          await fn(...args);
        } catch (e) {
          void showError(e);
        }
      });
    context.subscriptions.push(
      this,
      this.output,
      this.statusItem,
      vscode.window.registerTreeDataProvider("baton.threads", this.tree),
      reg("baton.new", () => this.newThread()),
      reg("baton.send", () => this.send()),
      reg("baton.sendPlan", () => this.send("plan")),
      reg("baton.sendSelection", () => this.sendSelection()),
      reg("baton.interrupt", (item?: ThreadItem) => this.interrupt(item)),
      reg("baton.stop", (item?: ThreadItem) => this.stop(item)),
      reg("baton.threads", () => this.pickThread()),
      reg("baton.open", (id: string) => this.open(id)),
      reg("baton.switch", (item?: ThreadItem) => this.switchProvider(item)),
      reg("baton.compact", (item?: ThreadItem) => this.compact(item)),
      reg("baton.delete", (item?: ThreadItem) => this.deleteThread(item)),
      reg("baton.takeover", (arg?: ThreadItem | string) => this.takeover(arg)),
      reg("baton.refresh", () => this.tree.refresh()),
      reg("baton.restart", () => this.restart()),
      reg("baton.showLog", () => this.output.show()),
    );
  }

  /** The running baton, started on first use. */
  connection(): Promise<BatonClient> {
    this.client ??= this.start().catch((e: unknown) => {
      this.client = undefined;
      throw e;
    });
    return this.client;
  }

  private async start(): Promise<BatonClient> {
    const cfg = config();
    const command = resolveBatonPath(cfg.get<string>("path"), this.context.extensionPath);
    const env = { ...process.env, ...cfg.get<Record<string, string>>("env", {}) };
    const serverOptions: ServerOptions = {
      command,
      args: cfg.get<string[]>("args", []),
      transport: TransportKind.stdio,
      options: { env, ...(workspaceCwd() ? { cwd: workspaceCwd() } : {}) },
    };
    const clientOptions: LanguageClientOptions = {
      // baton serves no documents: it is driven only through custom requests.
      documentSelector: [],
      outputChannel: this.output,
      initializationOptions: { idleTimeoutSecs: cfg.get<number>("idleTimeoutSecs", 600) },
    };
    this.output.appendLine(`starting ${command}`);
    const lsp = new LanguageClient("baton", "baton", serverOptions, clientOptions);
    const client = new BatonClient(lsp);
    client.onEvent((e) => this.onEvent(e));
    client.setApprovalHandler((r) => this.askApproval(r));
    client.setInputHandler((r, token) => this.askInput(r, token));
    await lsp.start();
    this.lsp = lsp;
    this.initializeResult = lsp.initializeResult as unknown as InitializeResult | undefined;
    const info = this.initializeResult?.serverInfo;
    this.output.appendLine(`connected to ${info?.name ?? "baton"} ${info?.version ?? ""}`);
    return client;
  }

  private async restart(): Promise<void> {
    await this.stopServer();
    await this.connection();
    for (const panel of this.panels.values()) await panel.reload();
    this.tree.refresh();
  }

  private async stopServer(): Promise<void> {
    const lsp = this.lsp;
    this.lsp = undefined;
    this.client = undefined;
    if (lsp) await lsp.stop(5000).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    for (const p of [...this.panels.values()]) p.dispose();
    await this.stopServer();
  }

  private onEvent(e: Event): void {
    let state = this.states.get(e.threadId);
    if (!state) {
      state = emptyChat(e.threadId);
      this.states.set(e.threadId, state);
    }
    // Only the header fields matter here; the panels keep the full transcripts.
    state.provider = e.provider;
    if (e.type === "thread.status") state.status = e.data.status;
    if ((e.type === "session.started" || e.type === "turn.started") && e.data.model) state.model = e.data.model;
    if (e.type === "model.rerouted" && e.data.toModel) state.model = e.data.toModel;
    if (e.type === "usage.updated") state.usage = e.data;
    if (e.type === "rate_limit.updated") state.rateLimits = e.data;
    this.panels.get(e.threadId)?.onEvent(e);
    if (e.type === "thread.status" || e.type === "session.exited" || e.type === "handoff.completed") {
      this.tree.refresh();
    }
    if (e.threadId === this.currentThreadId) this.updateStatus();
  }

  setCurrent(thread: Thread | string): void {
    const id = typeof thread === "string" ? thread : thread.id;
    if (typeof thread !== "string") {
      const state = this.states.get(id) ?? emptyChat(id);
      state.provider = thread.provider;
      state.status = thread.status;
      if (thread.model) state.model = thread.model;
      this.states.set(id, state);
    }
    this.currentThreadId = id;
    this.updateStatus();
  }

  private updateStatus(): void {
    const state = this.currentThreadId ? this.states.get(this.currentThreadId) : undefined;
    if (!state) return;
    const spinning = state.status === "running" ? "$(sync~spin)" : "$(comment-discussion)";
    this.statusItem.text = `${spinning} ${statusText(state)}`;
    const usage = state.usage;
    this.statusItem.tooltip = [
      `baton thread ${state.threadId ?? ""}`,
      usage?.contextTokens && usage.contextWindow
        ? `context: ${usage.contextTokens} of ${usage.contextWindow} tokens`
        : undefined,
      state.rateLimits ? rateLimitText(state.rateLimits) : undefined,
    ]
      .filter(Boolean)
      .join("\n");
  }

  /** The agent's questions: a quick pick (or input box) per question; Escape cancels them all. */
  /** The questions as quick picks and input boxes, which close when baton withdraws the request. */
  private async askInput(
    r: InputRequestParams,
    token?: vscode.CancellationToken,
  ): Promise<Record<string, string[]> | undefined> {
    if (this.panels.has(r.threadId)) this.panels.get(r.threadId)?.reveal();
    const ui: InputUi = {
      pick: async (items, o) => {
        if (o.canPickMany) {
          return vscode.window.showQuickPick(
            items,
            {
              title: o.title,
              placeHolder: o.placeHolder,
              canPickMany: true,
              ignoreFocusOut: true,
            },
            token,
          );
        }
        return vscode.window.showQuickPick<PickItem>(
          items,
          {
            title: o.title,
            placeHolder: o.placeHolder,
            ignoreFocusOut: true,
          },
          token,
        );
      },
      text: (o) =>
        Promise.resolve(
          vscode.window.showInputBox(
            { title: o.title, prompt: o.prompt, password: o.password, ignoreFocusOut: true },
            token,
          ),
        ),
    };
    return askQuestions(ui, r);
  }

  /**
   * A modal dialog. VS Code cannot close a modal message from code, so a request baton withdraws
   * leaves it open; baton ignores the late answer.
   */
  private async askApproval(r: ApprovalRequestParams): Promise<ApprovalDecision | undefined> {
    const detail = [
      r.command ? `Command: ${r.command}` : undefined,
      r.cwd ? `In: ${r.cwd}` : undefined,
      ...(r.changes ?? []).map((c) => `${c.kind}: ${c.path}`),
      r.reason ? `Reason: ${r.reason}` : undefined,
    ]
      .filter(Boolean)
      .join("\n");
    const choices: Record<string, ApprovalDecision> = {
      Accept: "accept",
      "Accept for Session": "acceptForSession",
      Decline: "decline",
    };
    const picked = await vscode.window.showWarningMessage(
      r.title,
      { modal: true, detail },
      ...Object.keys(choices),
    );
    // Dismissing the dialog is a decline: the agent must never act on a non-answer.
    return picked ? choices[picked] : "decline";
  }

  private async pickProvider(placeHolder: string): Promise<ProviderId | undefined> {
    const client = await this.connection();
    const providers = await client.providers();
    const preferred = config().get<string>("defaultProvider", "codex");
    const items = providers
      .map((p) => ({
        label: p.id,
        description: p.available ? (p.version ?? "") : "unavailable",
        detail: p.available ? (p.path ?? undefined) : (p.error ?? undefined),
        id: p.id,
      }))
      .sort((a, b) => Number(b.id === preferred) - Number(a.id === preferred));
    const picked = await vscode.window.showQuickPick(items, { placeHolder });
    return picked?.id;
  }

  private async newThread(): Promise<Thread | undefined> {
    const provider = await this.pickProvider("Provider of the new thread");
    if (!provider) return undefined;
    const cwd = workspaceCwd();
    if (!cwd) throw new Error("open a folder first: a thread runs in a workspace folder");
    const cfg = config();
    const model = cfg.get<string>("model", "");
    const client = await this.connection();
    const thread = await client.startThread({
      provider,
      cwd,
      ...(model ? { model } : {}),
      approvalPolicy: cfg.get("approvalPolicy", "on-request"),
      sandbox: cfg.get("sandbox", "workspace-write"),
    });
    this.setCurrent(thread);
    this.tree.refresh();
    await this.open(thread.id);
    return thread;
  }

  /** The thread a command acts on: the tree item it was invoked on, else the current one. */
  private async target(item?: ThreadItem): Promise<string | undefined> {
    if (item?.thread) return item.thread.id;
    if (this.currentThreadId) return this.currentThreadId;
    return (await this.pickThread())?.id;
  }

  async prompt(threadId: string | undefined, text: string, mode?: TurnMode): Promise<void> {
    const id = threadId ?? this.currentThreadId ?? (await this.newThread())?.id;
    if (!id) return;
    const client = await this.connection();
    this.setCurrent(id);
    if (!this.panels.has(id)) await this.open(id);
    await client.startTurn(id, text, mode ? { mode } : {});
  }

  /** Send Prompt, or with `plan` Plan Before Acting (Plan Mode Prompt): the agent plans and asks before acting. */
  private async send(mode?: TurnMode): Promise<void> {
    const text = await vscode.window.showInputBox({
      prompt: mode === "plan" ? "Prompt for the agent (plan mode: it plans and may ask before acting)" : "Prompt for the agent",
      ignoreFocusOut: true,
    });
    if (text) await this.prompt(undefined, text, mode);
  }

  private async sendSelection(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) return this.send();
    const sel = editor.selection;
    const file = vscode.workspace.asRelativePath(editor.document.uri);
    const code = editor.document.getText(sel);
    const ask = await vscode.window.showInputBox({
      prompt: `Prompt about ${file}:${sel.start.line + 1}-${sel.end.line + 1}`,
      ignoreFocusOut: true,
    });
    if (ask === undefined) return;
    const text = `${ask}\n\nFrom \`${file}\` lines ${sel.start.line + 1}-${sel.end.line + 1}:\n\`\`\`${editor.document.languageId}\n${code}\n\`\`\``;
    await this.prompt(undefined, text);
  }

  async interrupt(item?: ThreadItem): Promise<void> {
    const id = await this.target(item);
    if (id) await (await this.connection()).interrupt(id);
  }

  private async stop(item?: ThreadItem): Promise<void> {
    const id = await this.target(item);
    if (!id) return;
    const thread = await (await this.connection()).stopThread(id);
    this.setCurrent(thread);
    this.tree.refresh();
  }

  private async compact(item?: ThreadItem): Promise<void> {
    const id = await this.target(item);
    if (id) await (await this.connection()).compact(id);
  }

  private async switchProvider(item?: ThreadItem): Promise<void> {
    const id = await this.target(item);
    if (!id) return;
    const provider = await this.pickProvider("Switch the thread to");
    if (!provider) return;
    const model = await vscode.window.showInputBox({ prompt: "Model (empty for the provider's default)" });
    if (model === undefined) return;
    const result = await (await this.connection()).switchProvider(id, provider, model || undefined);
    this.setCurrent(result.thread);
    this.tree.refresh();
    void vscode.window.showInformationMessage(
      `baton: now on ${result.thread.provider} (handoff: ${result.handoff.strategy})`,
    );
  }

  /** Take Over Thread: the window that drives the thread lets go of it, and this one drives it. */
  private async takeover(arg?: ThreadItem | string): Promise<void> {
    const id = typeof arg === "string" ? arg : await this.target(arg);
    if (!id) return;
    const thread = await (await this.connection()).takeover(id);
    this.setCurrent(thread);
    this.tree.refresh();
    void vscode.window.showInformationMessage(`baton: this window now drives the thread`);
  }

  private async deleteThread(item?: ThreadItem): Promise<void> {
    const id = await this.target(item);
    if (!id) return;
    const sure = await vscode.window.showWarningMessage(
      "Delete this thread and its history?",
      { modal: true },
      "Delete",
    );
    if (sure !== "Delete") return;
    await (await this.connection()).deleteThread(id);
    this.panels.get(id)?.dispose();
    if (this.currentThreadId === id) this.currentThreadId = undefined;
    this.tree.refresh();
  }

  private async pickThread(): Promise<Thread | undefined> {
    const threads = await (await this.connection()).listThreads();
    const picked = await vscode.window.showQuickPick(
      threads.map((t) => ({
        label: t.title ?? t.id,
        description: `${t.provider}${t.model ? ` · ${t.model}` : ""} · ${t.status}`,
        detail: `${t.cwd} — ${new Date(t.updatedAt).toLocaleString()}`,
        thread: t,
      })),
      { placeHolder: "Open a baton thread" },
    );
    if (!picked) return undefined;
    this.setCurrent(picked.thread);
    await this.open(picked.thread.id);
    return picked.thread;
  }

  async open(threadId: string): Promise<void> {
    const existing = this.panels.get(threadId);
    if (existing) {
      existing.reveal();
    } else {
      const panel = new ChatPanel(this, threadId, () => this.panels.delete(threadId));
      this.panels.set(threadId, panel);
      await panel.reload();
    }
    this.setCurrent(threadId);
  }
}

/** One thread in the Threads view. */
class ThreadItem extends vscode.TreeItem {
  constructor(readonly thread: Thread) {
    super(thread.title ?? `thread ${thread.id.slice(-8)}`, vscode.TreeItemCollapsibleState.None);
    this.description = `${thread.provider}${thread.model ? ` · ${thread.model}` : ""} · ${thread.status}`;
    this.tooltip = `${thread.cwd}\nupdated ${new Date(thread.updatedAt).toLocaleString()}`;
    this.contextValue = "thread";
    const icons: Record<string, string> = {
      running: "sync~spin",
      idle: "comment-discussion",
      stopped: "debug-pause",
      error: "error",
    };
    this.iconPath = new vscode.ThemeIcon(icons[thread.status] ?? "comment");
    this.command = { command: "baton.open", title: "Open Thread", arguments: [thread.id] };
  }
}

class ThreadsTree implements vscode.TreeDataProvider<ThreadItem> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ext: BatonExtension) {}

  /** Debounced, since a turn produces bursts of status events. */
  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.changed.fire(), 200);
  }

  getTreeItem(item: ThreadItem): vscode.TreeItem {
    return item;
  }

  async getChildren(): Promise<ThreadItem[]> {
    try {
      const threads = await (await this.ext.connection()).listThreads();
      return threads.map((t) => new ThreadItem(t));
    } catch (e) {
      void vscode.window.showErrorMessage(`baton: ${errorText(e)}`);
      return [];
    }
  }
}

/**
 * The chat webview of one thread. History comes from `thread/read`; live events that arrive while
 * it loads are buffered and applied after it, and the reducer drops duplicates by seq, so nothing
 * is lost or shown twice. A gap in seq (e.g. after a restart) triggers a re-read.
 */
class ChatPanel {
  private readonly panel: vscode.WebviewPanel;
  private state: ChatState;
  private loading = true;
  private buffered: Event[] = [];
  private renderTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ext: BatonExtension,
    private readonly threadId: string,
    onClose: () => void,
  ) {
    this.state = emptyChat(threadId);
    this.panel = vscode.window.createWebviewPanel(
      "baton.chat",
      `baton ${threadId.slice(-8)}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      { enableScripts: true, retainContextWhenHidden: true },
    );
    this.panel.webview.html = pageHtml(this.panel.webview);
    this.panel.onDidDispose(onClose);
    this.panel.onDidChangeViewState((e) => {
      if (e.webviewPanel.active) this.ext.setCurrent(this.threadId);
    });
    this.panel.webview.onDidReceiveMessage(async (m: { type: string; text?: string; mode?: string }) => {
      try {
        if (m.type === "send" && m.text) await this.ext.prompt(this.threadId, m.text, m.mode === "plan" ? "plan" : undefined);
        else if (m.type === "interrupt") await this.ext.interrupt();
        else if (m.type === "ready") this.render();
      } catch (e) {
        void showError(e);
      }
    });
  }

  reveal(): void {
    this.panel.reveal();
  }

  dispose(): void {
    this.panel.dispose();
  }

  async reload(): Promise<void> {
    this.loading = true;
    this.buffered = [];
    const client = await this.ext.connection();
    const read = await client.readThread(this.threadId, this.state.lastSeq);
    this.panel.title = read.thread.title ?? `baton ${this.threadId.slice(-8)}`;
    applyEvents(this.state, read.events);
    this.state.provider = read.thread.provider;
    this.state.status = read.thread.status;
    if (read.thread.model) this.state.model = read.thread.model;
    this.loading = false;
    applyEvents(this.state, this.buffered);
    this.buffered = [];
    this.render();
  }

  onEvent(e: Event): void {
    if (this.loading) {
      this.buffered.push(e);
      return;
    }
    if (e.seq > this.state.lastSeq + 1) {
      void this.reload();
      return;
    }
    if (applyEvents(this.state, [e])) this.scheduleRender();
  }

  /** Coalesces a burst of deltas into one repaint. */
  private scheduleRender(): void {
    this.renderTimer ??= setTimeout(() => {
      this.renderTimer = undefined;
      this.render();
    }, 30);
  }

  private render(): void {
    void this.panel.webview.postMessage({
      type: "render",
      html: renderHtml(this.state),
      status: statusText(this.state),
      running: this.state.status === "running",
    });
  }
}

function nonce(): string {
  let s = "";
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; i < 32; i++) s += chars.charAt(Math.floor(Math.random() * chars.length));
  return s;
}

/** The webview page: a transcript, a status line and a prompt box; all content arrives by message. */
function pageHtml(webview: vscode.Webview): string {
  const n = nonce();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource} 'unsafe-inline'; script-src 'nonce-${n}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style>
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 12px 120px; }
  .block { margin: 10px 0; padding: 6px 10px; border-radius: 4px; }
  .user { background: var(--vscode-textBlockQuote-background); }
  .who { font-weight: bold; opacity: .8; margin-bottom: 4px; }
  .text { white-space: pre-wrap; }
  .streaming .text:last-child::after { content: "▍"; opacity: .6; }
  pre { background: var(--vscode-textCodeBlock-background); padding: 6px; overflow-x: auto; white-space: pre-wrap; }
  .badge { font-size: 85%; padding: 0 6px; border-radius: 8px; background: var(--vscode-badge-background); color: var(--vscode-badge-foreground); }
  .badge.ok { background: var(--vscode-testing-iconPassed); }
  .badge.fail { background: var(--vscode-testing-iconFailed); }
  .marker { margin: 8px 0; font-style: italic; opacity: .8; }
  .marker.warning { color: var(--vscode-editorWarning-foreground); }
  .marker.error { color: var(--vscode-errorForeground); }
  .reasoning, .command { opacity: .9; }
  .progress, .rate-limit, .explanation { opacity: .6; font-size: 90%; margin: 4px 0; }
  .rate-limit.error { color: var(--vscode-errorForeground); opacity: 1; }
  .error { color: var(--vscode-errorForeground); }
  ul.checklist { list-style: none; padding-left: 4px; margin: 4px 0; }
  .step.completed { opacity: .7; }
  .step.inProgress { font-weight: bold; }
  pre.diff .add { color: var(--vscode-gitDecoration-addedResourceForeground); }
  pre.diff .del { color: var(--vscode-gitDecoration-deletedResourceForeground); }
  pre.diff .hunk, pre.diff .file { opacity: .7; }
  #composer { position: fixed; left: 0; right: 0; bottom: 0; padding: 8px 12px; background: var(--vscode-editor-background); border-top: 1px solid var(--vscode-panel-border); }
  #status { font-size: 90%; opacity: .7; margin-bottom: 4px; }
  textarea { width: 100%; box-sizing: border-box; color: var(--vscode-input-foreground); background: var(--vscode-input-background); border: 1px solid var(--vscode-input-border, transparent); }
</style>
</head>
<body>
<div id="transcript"></div>
<div id="composer">
  <div id="status"></div>
  <textarea id="input" rows="3" placeholder="Ask the agent (Ctrl+Enter to send)"></textarea>
  <button id="send">Send</button> <button id="plan" title="Send in plan mode: the agent plans and may ask before acting">Plan</button> <button id="interrupt" disabled>Interrupt</button>
</div>
<script nonce="${n}">
  const vscode = acquireVsCodeApi();
  const transcript = document.getElementById("transcript");
  const input = document.getElementById("input");
  const interrupt = document.getElementById("interrupt");
  const send = (mode) => {
    const text = input.value.trim();
    if (text) { vscode.postMessage(mode ? { type: "send", text, mode } : { type: "send", text }); input.value = ""; }
  };
  document.getElementById("send").addEventListener("click", () => send());
  document.getElementById("plan").addEventListener("click", () => send("plan"));
  interrupt.addEventListener("click", () => vscode.postMessage({ type: "interrupt" }));
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) send(); });
  window.addEventListener("message", (event) => {
    const m = event.data;
    if (m.type !== "render") return;
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    // Folded sections keep their state across repaints.
    const open = new Set([...transcript.querySelectorAll("details")].map((d, i) => d.open ? i : -1));
    transcript.innerHTML = m.html;
    [...transcript.querySelectorAll("details")].forEach((d, i) => { if (open.has(i)) d.open = true; });
    document.getElementById("status").textContent = m.status;
    interrupt.disabled = !m.running;
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  });
  vscode.postMessage({ type: "ready" });
</script>
</body>
</html>`;
}
