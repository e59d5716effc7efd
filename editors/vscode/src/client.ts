/**
 * The baton protocol as a typed API over any JSON-RPC endpoint.
 *
 * This module imports only `vscode-jsonrpc` (and Node built-ins), never `vscode`, so the same code
 * runs inside the extension (over `vscode-languageclient`'s `LanguageClient`) and in plain Node
 * tests (over a `MessageConnection` to a spawned baton). The extension and the tests therefore
 * exercise one implementation of the protocol.
 *
 * Main types: {@link RpcEndpoint} (what both transports provide), {@link BatonClient} (requests,
 * the event fan-out, the approval handler and the input handler) and {@link spawnBaton} (a baton child process with a
 * connection over its stdio, in LSP framing).
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type CancellationToken,
  type MessageConnection,
} from "vscode-jsonrpc/node";
import type {
  ApprovalDecision,
  ApprovalRequestParams,
  ClientRequests,
  Event,
  HandoffMode,
  InitializationOptions,
  InputRequestParams,
  InputResponse,
  InitializeResult,
  ProviderId,
  ProviderInfo,
  Thread,
  ThreadListParams,
  ThreadReadResponse,
  ThreadStartParams,
  ThreadSwitchResponse,
  TurnMode,
} from "./protocol";

/** Something that can be undone, e.g. a registered handler. Structurally the same as VS Code's. */
export interface Disposable {
  dispose(): void;
}

/**
 * The part of a JSON-RPC connection the client needs. Both `vscode-jsonrpc`'s `MessageConnection`
 * and `vscode-languageclient`'s `LanguageClient` satisfy it structurally.
 */
export interface RpcEndpoint {
  sendRequest<R>(method: string, params: unknown): Promise<R>;
  sendNotification(method: string, params: unknown): Promise<void>;
  // The handlers take `any` because that is how both libraries declare their untyped handlers;
  // the client narrows the params to the generated protocol types right where it registers.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onNotification(method: string, handler: (...params: any[]) => void): Disposable;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onRequest(method: string, handler: (...params: any[]) => unknown): Disposable;
}

/**
 * The answer an approval handler gives; `undefined` (e.g. a dismissed dialog) means decline.
 * `token` is cancelled when baton withdraws the request (`$/cancelRequest`: the turn ended, the
 * thread stopped, the approval timed out): the handler should close its prompt, its answer is
 * ignored.
 */
export type ApprovalHandler = (
  request: ApprovalRequestParams,
  token?: CancellationToken,
) => Promise<ApprovalDecision | undefined> | ApprovalDecision | undefined;

/**
 * Answers `input/request` (the agent's questions): the answers by question id, or `undefined`
 * (a dismissed prompt) to cancel. `token` is cancelled when baton withdraws the request.
 */
export type InputHandler = (
  request: InputRequestParams,
  token?: CancellationToken,
) => Promise<Record<string, string[]> | undefined> | Record<string, string[]> | undefined;

/** Options of {@link BatonClient.startTurn}. */
export interface TurnOptions {
  /** `plan`: the agent plans (and may ask questions) before it acts. */
  mode?: TurnMode;
  /** Switch the thread to this provider first (baton hands the context over). */
  provider?: ProviderId;
  /** Switch the thread to this model first. */
  model?: string;
}

/** A typed baton client over one endpoint. */
export class BatonClient {
  private readonly listeners = new Set<(event: Event) => void>();
  private approvalHandler: ApprovalHandler | undefined;
  private inputHandler: InputHandler | undefined;
  private readonly registrations: Disposable[] = [];

  constructor(private readonly rpc: RpcEndpoint) {
    this.registrations.push(
      rpc.onNotification("thread/event", (event: Event) => {
        for (const listener of [...this.listeners]) {
          // One broken listener must not starve the others of events.
          try {
            listener(event);
          } catch {
            // Listeners report their own errors; the fan-out goes on.
          }
        }
      }),
      // Both libraries pass the request's cancellation token last; baton cancels a request it
      // withdraws, so the prompt can close.
      rpc.onRequest("approval/request", async (params: ApprovalRequestParams, token?: CancellationToken) => {
        const handler = this.approvalHandler;
        // Without a handler nobody can say yes, and baton treats the answer as final.
        const decision = handler ? await handler(params, token) : undefined;
        return { decision: decision ?? "decline" };
      }),
      rpc.onRequest("input/request", (params: InputRequestParams, token?: CancellationToken) =>
        this.answerInput(params, token),
      ),
    );
  }

  /** A typed request; `method` and `params` are checked against the generated protocol. */
  request<M extends keyof ClientRequests>(
    method: M,
    params: ClientRequests[M]["params"],
  ): Promise<ClientRequests[M]["result"]> {
    return this.rpc.sendRequest<ClientRequests[M]["result"]>(method, params);
  }

  /**
   * `initialize` + `initialized`, for raw connections. A `LanguageClient` performs this handshake
   * itself (with `initializationOptions` from its client options), so the extension never calls it.
   */
  async initialize(
    clientName: string,
    options: InitializationOptions = {},
  ): Promise<InitializeResult> {
    const result = await this.request("initialize", {
      processId: process.pid,
      clientInfo: { name: clientName },
      initializationOptions: options,
    });
    await this.rpc.sendNotification("initialized", {});
    return result;
  }

  /** Calls `listener` with every `thread/event`, or only those of `threadId`. */
  onEvent(listener: (event: Event) => void, threadId?: string): Disposable {
    const wrapped =
      threadId === undefined
        ? listener
        : (event: Event) => {
            if (event.threadId === threadId) listener(event);
          };
    this.listeners.add(wrapped);
    return { dispose: () => this.listeners.delete(wrapped) };
  }

  /**
   * The reply to an `input/request`: `{answers}` from the handler, or `{cancelled: true}` when there
   * is no handler, it throws, or the user dismissed a prompt.
   */
  async answerInput(params: InputRequestParams, token?: CancellationToken): Promise<InputResponse> {
    const handler = this.inputHandler;
    if (!handler) return { cancelled: true };
    let answers: Record<string, string[]> | undefined;
    try {
      answers = await handler(params, token);
    } catch {
      answers = undefined;
    }
    if (!answers || Object.keys(answers).length === 0) return { cancelled: true };
    return { answers };
  }

  /** Sets who answers `input/request`; without one every request is cancelled. */
  setInputHandler(handler: InputHandler | undefined): void {
    this.inputHandler = handler;
  }

  /** Sets who answers `approval/request`; without one every approval is declined. */
  setApprovalHandler(handler: ApprovalHandler | undefined): void {
    this.approvalHandler = handler;
  }

  async providers(): Promise<ProviderInfo[]> {
    return (await this.request("provider/list", {})).providers;
  }

  async startThread(params: ThreadStartParams): Promise<Thread> {
    return (await this.request("thread/start", params)).thread;
  }

  /** Sends a text prompt; resolves with the turn id once the provider accepted the turn. */
  async startTurn(threadId: string, text: string, options: TurnOptions = {}): Promise<string> {
    const result = await this.request("turn/start", {
      threadId,
      input: [{ type: "text", text }],
      ...(options.provider ? { provider: options.provider } : {}),
      ...(options.model ? { model: options.model } : {}),
      ...(options.mode ? { mode: options.mode } : {}),
    });
    return result.turnId;
  }

  async interrupt(threadId: string): Promise<void> {
    await this.request("turn/interrupt", { threadId });
  }

  /** Every thread (following `nextCursor`), most recently updated first. */
  async listThreads(params: Omit<ThreadListParams, "cursor"> = {}): Promise<Thread[]> {
    const threads: Thread[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.request("thread/list", { ...params, ...(cursor ? { cursor } : {}) });
      threads.push(...page.threads);
      if (!page.nextCursor) return threads;
      cursor = page.nextCursor;
    }
  }

  readThread(threadId: string, sinceSeq = 0): Promise<ThreadReadResponse> {
    return this.request("thread/read", { threadId, sinceSeq });
  }

  async stopThread(threadId: string, detach = false): Promise<Thread> {
    return (await this.request("thread/stop", { threadId, detach })).thread;
  }

  /** `thread/takeover`: moves a thread another window drives to this one. */
  async takeover(threadId: string): Promise<Thread> {
    return (await this.request("thread/takeover", { threadId })).thread;
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.request("thread/delete", { threadId });
  }

  /** Starts a compaction; its progress arrives as `compaction.*` events. */
  async compact(threadId: string, instructions?: string): Promise<void> {
    await this.request("thread/compact/start", {
      threadId,
      ...(instructions ? { instructions } : {}),
    });
  }

  switchProvider(
    threadId: string,
    provider: ProviderId,
    model?: string,
    handoff: HandoffMode = "auto",
  ): Promise<ThreadSwitchResponse> {
    return this.request("thread/switch", {
      threadId,
      provider,
      handoff,
      ...(model ? { model } : {}),
    });
  }

  /** Drops the handlers this client registered on the endpoint. */
  dispose(): void {
    for (const r of this.registrations) r.dispose();
    this.listeners.clear();
  }
}

/** A baton child process and a connection over its stdio. */
export interface SpawnedBaton {
  process: ChildProcess;
  connection: MessageConnection;
  client: BatonClient;
  /** Everything baton wrote to stderr so far (its log). */
  stderr(): string;
  /** `shutdown`, `exit`, and waits (bounded) for the process to end; kills it if it does not. */
  close(timeoutMs?: number): Promise<number | null>;
}

/**
 * Spawns `binary` and connects to it in LSP framing. The caller still has to
 * {@link BatonClient.initialize}; this is what tests and non-VS Code hosts use.
 */
export function spawnBaton(
  binary: string,
  args: string[] = [],
  options: SpawnOptions = {},
): SpawnedBaton {
  const child = spawn(binary, args, { ...options, stdio: ["pipe", "pipe", "pipe"] });
  const { stdin, stdout, stderr } = child;
  if (!stdin || !stdout || !stderr) {
    throw new Error("baton was spawned without piped stdio");
  }
  let log = "";
  stderr.setEncoding("utf8");
  stderr.on("data", (chunk: string) => {
    log += chunk;
  });
  const connection = createMessageConnection(
    new StreamMessageReader(stdout),
    new StreamMessageWriter(stdin),
  );
  const client = new BatonClient(connection);
  connection.listen();
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
  return {
    process: child,
    connection,
    client,
    stderr: () => log,
    async close(timeoutMs = 5000) {
      const timer = new Promise<"timeout">((resolve) => {
        setTimeout(() => resolve("timeout"), timeoutMs).unref();
      });
      try {
        await Promise.race([connection.sendRequest("shutdown", null), timer]);
        await connection.sendNotification("exit", null);
      } catch {
        // baton may already be gone; the exit wait below decides.
      }
      const code = await Promise.race([exited, timer]);
      connection.dispose();
      if (code === "timeout") {
        child.kill("SIGKILL");
        return null;
      }
      return code;
    },
  };
}
