/* eslint-disable */
// Generated from protocol/schema/baton.schema.json by scripts/gen-protocol.mjs; do not edit.
// Regenerate with `npm run gen-protocol` (in editors/vscode) after the schema changes.

/**
 * The editor's answer.
 */
export type ApprovalDecision = ("accept" | "decline") | "acceptForSession" | "cancel";
/**
 * What is being approved.
 */
export type ApprovalKind = "command" | "fileChange" | "other";
/**
 * When the agent must ask before acting.
 */
export type ApprovalPolicy = "untrusted" | "on-request" | "never";
/**
 * What started a compaction.
 */
export type CompactionTrigger = "manual" | "auto";
/**
 * Which stream a delta belongs to.
 */
export type Stream =
  "assistant" | "reasoning" | "reasoning_summary" | "command_output" | "tool_output" | "plan";
/**
 * Params of the `thread/event` notification: one event of one thread.
 */
export type Event = {
  /**
   * Milliseconds since the Unix epoch.
   */
  at: number;
  itemId?: string | null;
  provider: ProviderId;
  seq: number;
  threadId: string;
  turnId?: string | null;
} & Event1;
/**
 * A provider id: the name of a configured agent behind a thread (`codex`, `claude`, or any id a
 * config file declares, e.g. `gemini`). On the wire it is a plain string.
 */
export type ProviderId = string;
export type Event1 =
  | {
      data: SessionStarted;
      type: "session.started";
    }
  | {
      data: SessionExited;
      type: "session.exited";
    }
  | {
      data: ThreadStatusChanged;
      type: "thread.status";
    }
  | {
      data: TurnStarted;
      type: "turn.started";
    }
  | {
      data: ContentDelta;
      type: "content.delta";
    }
  | {
      data: Item;
      type: "item.started";
    }
  | {
      data: Item;
      type: "item.completed";
    }
  | {
      data: ApprovalRequested;
      type: "approval.requested";
    }
  | {
      data: ApprovalResolved;
      type: "approval.resolved";
    }
  | {
      data: ItemProgress;
      type: "item.progress";
    }
  | {
      data: InputRequested;
      type: "input.requested";
    }
  | {
      data: InputResolved;
      type: "input.resolved";
    }
  | {
      data: TurnPlan;
      type: "turn.plan";
    }
  | {
      data: TurnDiff;
      type: "turn.diff";
    }
  | {
      data: UsageUpdated;
      type: "usage.updated";
    }
  | {
      data: RateLimitUpdated;
      type: "rate_limit.updated";
    }
  | {
      data: ModelRerouted;
      type: "model.rerouted";
    }
  | {
      data: TurnCompleted;
      type: "turn.completed";
    }
  | {
      data: CompactionStarted;
      type: "compaction.started";
    }
  | {
      data: CompactionCompleted;
      type: "compaction.completed";
    }
  | {
      data: CompactionFailed;
      type: "compaction.failed";
    }
  | {
      data: HandoffStarted;
      type: "handoff.started";
    }
  | {
      data: HandoffCompleted;
      type: "handoff.completed";
    }
  | {
      data: HandoffFailed;
      type: "handoff.failed";
    }
  | {
      data: RuntimeWarning;
      type: "runtime.warning";
    }
  | {
      data: RuntimeError;
      type: "runtime.error";
    };
/**
 * Why a session ended.
 */
export type ExitReason =
  "stopped" | "detached" | "idle" | "crashed" | "shutdown" | "deleted" | "takenOver";
/**
 * The state of a thread's provider session.
 */
export type ThreadStatus = "idle" | "running" | "stopped" | "error";
/**
 * The kind of an item.
 */
export type ItemType =
  | (
      | "user_message"
      | "assistant_message"
      | "reasoning"
      | "command"
      | "file_change"
      | "tool_call"
      | "web_search"
      | "plan"
      | "compaction"
      | "other"
    )
  | "mcp_tool_call"
  | "subagent";
/**
 * Status of a plan step.
 */
export type PlanStepStatus = "pending" | "inProgress" | "completed";
/**
 * How a turn ended.
 */
export type TurnState = "completed" | "failed" | "interrupted";
/**
 * How the context reaches the target provider in a handoff.
 */
export type HandoffStrategy = "compact" | "transcript" | "delta" | "none";
/**
 * The handoff a switch asks for.
 */
export type HandoffMode = ("compact" | "transcript" | "none") | "auto";
/**
 * How baton talks to a provider: the adapter behind its id.
 */
export type ProviderKind = "codex" | "claude" | "acp";
/**
 * One piece of user input.
 */
export type InputItem = {
  text: string;
  type: "text";
};
/**
 * What the agent's commands may touch.
 */
export type SandboxMode = "read-only" | "workspace-write" | "danger-full-access";
/**
 * How the agent works in a turn.
 */
export type TurnMode = "default" | "plan";

export interface BatonProtocolDefinitions {
  ApprovalDecision?: ApprovalDecision;
  ApprovalKind?: ApprovalKind;
  ApprovalPolicy?: ApprovalPolicy;
  ApprovalRequestParams?: ApprovalRequestParams;
  ApprovalRequested?: ApprovalRequested;
  ApprovalResolved?: ApprovalResolved;
  ApprovalResponse?: ApprovalResponse;
  CancelParams?: CancelParams;
  ClientInfo?: ClientInfo;
  CompactionCompleted?: CompactionCompleted;
  CompactionFailed?: CompactionFailed;
  CompactionStarted?: CompactionStarted;
  CompactionTrigger?: CompactionTrigger;
  ContentDelta?: ContentDelta;
  EmptyResponse?: EmptyResponse;
  Event?: Event;
  ExitReason?: ExitReason;
  FileChange?: FileChange;
  HandoffCompleted?: HandoffCompleted;
  HandoffFailed?: HandoffFailed;
  HandoffInfo?: HandoffInfo;
  HandoffMode?: HandoffMode;
  HandoffStarted?: HandoffStarted;
  HandoffStrategy?: HandoffStrategy;
  InitializationOptions?: InitializationOptions;
  InitializeParams?: InitializeParams;
  InitializeResult?: InitializeResult;
  InputItem?: InputItem;
  InputOption?: InputOption;
  InputQuestion?: InputQuestion;
  InputRequestParams?: InputRequestParams;
  InputRequested?: InputRequested;
  InputResolved?: InputResolved;
  InputResponse?: InputResponse;
  Item?: Item;
  ItemProgress?: ItemProgress;
  ItemType?: ItemType;
  LeaseHolder?: LeaseHolder;
  ModelRerouted?: ModelRerouted;
  PlanStep?: PlanStep;
  PlanStepStatus?: PlanStepStatus;
  ProviderCapabilities?: ProviderCapabilities;
  ProviderChangedParams?: ProviderChangedParams;
  ProviderId?: ProviderId;
  ProviderInfo?: ProviderInfo;
  ProviderKind?: ProviderKind;
  ProviderListParams?: ProviderListParams;
  ProviderListResponse?: ProviderListResponse;
  RateLimit?: RateLimit;
  RateLimitUpdated?: RateLimitUpdated;
  RuntimeError?: RuntimeError;
  RuntimeWarning?: RuntimeWarning;
  SandboxMode?: SandboxMode;
  ServerCapabilities?: ServerCapabilities;
  ServerInfo?: ServerInfo;
  SessionExited?: SessionExited;
  SessionStarted?: SessionStarted;
  Stream?: Stream;
  Thread?: Thread;
  ThreadCompactStartParams?: ThreadCompactStartParams;
  ThreadDeleteParams?: ThreadDeleteParams;
  ThreadLeasedData?: ThreadLeasedData;
  ThreadListParams?: ThreadListParams;
  ThreadListResponse?: ThreadListResponse;
  ThreadReadParams?: ThreadReadParams;
  ThreadReadResponse?: ThreadReadResponse;
  ThreadResponse?: ThreadResponse;
  ThreadStartParams?: ThreadStartParams;
  ThreadStatus?: ThreadStatus;
  ThreadStatusChanged?: ThreadStatusChanged;
  ThreadStopParams?: ThreadStopParams;
  ThreadSubscribeParams?: ThreadSubscribeParams;
  ThreadSwitchParams?: ThreadSwitchParams;
  ThreadSwitchResponse?: ThreadSwitchResponse;
  ThreadTakeoverParams?: ThreadTakeoverParams;
  ThreadUnsubscribeParams?: ThreadUnsubscribeParams;
  ThreadUpdateParams?: ThreadUpdateParams;
  TurnCompleted?: TurnCompleted;
  TurnDiff?: TurnDiff;
  TurnInterruptParams?: TurnInterruptParams;
  TurnMode?: TurnMode;
  TurnPlan?: TurnPlan;
  TurnStartParams?: TurnStartParams;
  TurnStartResponse?: TurnStartResponse;
  TurnStarted?: TurnStarted;
  TurnState?: TurnState;
  UsageUpdated?: UsageUpdated;
}
/**
 * Params of the server -> client request `approval/request`.
 */
export interface ApprovalRequestParams {
  changes?: FileChange[] | null;
  command?: string | null;
  cwd?: string | null;
  kind: ApprovalKind;
  reason?: string | null;
  /**
   * baton's id for this approval; it appears in `approval.requested` / `approval.resolved`.
   */
  requestId: string;
  threadId: string;
  /**
   * One line for a prompt.
   */
  title: string;
  turnId: string;
}
/**
 * One file touched by a file-change item.
 */
export interface FileChange {
  diff?: string | null;
  /**
   * `add`, `delete` or `update`.
   */
  kind: string;
  path: string;
}
/**
 * `approval.requested`.
 */
export interface ApprovalRequested {
  command?: string | null;
  kind: ApprovalKind;
  requestId: string;
  title?: string | null;
}
/**
 * `approval.resolved`.
 */
export interface ApprovalResolved {
  /**
   * Who decided when it was not the editor: `timeout`, `disconnect`, `error` (an error reply),
   * or, for an approval withdrawn with its turn, `interrupt`, `stop`, `shutdown`,
   * `providerExit`, `turnEnded`.
   */
  by?: string | null;
  decision: ApprovalDecision;
  requestId: string;
}
/**
 * Result of `approval/request`. An error reply, a disconnect or a timeout counts as `decline`.
 */
export interface ApprovalResponse {
  decision: ApprovalDecision;
}
/**
 * Params of `$/cancelRequest`.
 */
export interface CancelParams {
  /**
   * The id of the request to cancel.
   */
  id: {
    [k: string]: unknown | undefined;
  };
}
/**
 * Name and version of the editor.
 */
export interface ClientInfo {
  name: string;
  version?: string | null;
}
/**
 * `compaction.completed`.
 */
export interface CompactionCompleted {
  postTokens?: number | null;
  preTokens?: number | null;
  /**
   * The summary that replaces the earlier context.
   */
  summary: string;
  trigger: CompactionTrigger;
}
/**
 * `compaction.failed`.
 */
export interface CompactionFailed {
  error: string;
}
/**
 * `compaction.started`.
 */
export interface CompactionStarted {
  trigger: CompactionTrigger;
}
/**
 * `content.delta`: concatenating the deltas of an item gives its text. One event may carry
 * several of the agent's deltas, joined when baton read them together.
 */
export interface ContentDelta {
  delta: string;
  stream: Stream;
}
/**
 * An empty result object.
 */
export interface EmptyResponse {}
/**
 * `session.started`.
 */
export interface SessionStarted {
  model?: string | null;
  providerThreadId: string;
  /**
   * True when an existing provider thread was resumed with its history.
   */
  resumed: boolean;
}
/**
 * `session.exited`.
 */
export interface SessionExited {
  message?: string | null;
  reason: ExitReason;
  /**
   * True when the next turn can resume the same provider thread.
   */
  recoverable: boolean;
}
/**
 * `thread.status`.
 */
export interface ThreadStatusChanged {
  status: ThreadStatus;
}
/**
 * `turn.started`.
 */
export interface TurnStarted {
  model?: string | null;
}
/**
 * `item.started` / `item.completed`.
 */
export interface Item {
  changes?: FileChange[] | null;
  command?: string | null;
  cwd?: string | null;
  /**
   * Why the item failed, when it did.
   */
  error?: string | null;
  exitCode?: number | null;
  itemType: ItemType;
  /**
   * Output of a command, when complete.
   */
  output?: string | null;
  /**
   * MCP server of an `mcp_tool_call`.
   */
  server?: string | null;
  /**
   * Provider status of the item (e.g. `completed`, `failed`, `declined`).
   */
  status?: string | null;
  text?: string | null;
  /**
   * Tool name for `tool_call`, `mcp_tool_call` and `subagent` items.
   */
  tool?: string | null;
}
/**
 * `item.progress`.
 */
export interface ItemProgress {
  message: string;
}
/**
 * `input.requested`.
 */
export interface InputRequested {
  questions: InputQuestion[];
  requestId: string;
}
/**
 * One question the agent asks.
 */
export interface InputQuestion {
  /**
   * Free text is accepted besides the options.
   */
  allowOther?: boolean;
  /**
   * A short label (a chip or a title).
   */
  header?: string | null;
  /**
   * Key of this question in the answer's `answers`.
   */
  id: string;
  /**
   * More than one option may be picked.
   */
  multiSelect?: boolean;
  /**
   * Choices; empty means free text.
   */
  options?: InputOption[];
  /**
   * The question text.
   */
  question: string;
  /**
   * The answer is a secret: do not echo or store it in the editor.
   */
  secret?: boolean;
}
/**
 * One choice offered for a question.
 */
export interface InputOption {
  description?: string | null;
  label: string;
}
/**
 * `input.resolved`. Answers to secret questions are recorded as `"•••"`.
 */
export interface InputResolved {
  answers?: {
    [k: string]: string[] | undefined;
  };
  /**
   * Who cancelled when it was not the editor: `timeout`, `disconnect`, `error` (an error
   * reply), or, for a question withdrawn with its turn, `interrupt`, `stop`, `shutdown`,
   * `providerExit`, `turnEnded`.
   */
  by?: string | null;
  /**
   * True when nothing was answered; the agent was told the user declined.
   */
  cancelled: boolean;
  requestId: string;
}
/**
 * `turn.plan`.
 */
export interface TurnPlan {
  explanation?: string | null;
  steps: PlanStep[];
}
/**
 * One step of a plan.
 */
export interface PlanStep {
  status: PlanStepStatus;
  text: string;
}
/**
 * `turn.diff`.
 */
export interface TurnDiff {
  /**
   * `git diff`-style unified diff of every change of the turn so far.
   */
  unifiedDiff: string;
}
/**
 * `usage.updated`. Context fill is `contextTokens / contextWindow`.
 */
export interface UsageUpdated {
  cachedInputTokens?: number | null;
  /**
   * Tokens the conversation occupies in the model's context now (the last request).
   */
  contextTokens?: number | null;
  contextWindow?: number | null;
  costUsd?: number | null;
  /**
   * Cumulative over the thread's provider session.
   */
  inputTokens: number;
  outputTokens: number;
  reasoningTokens?: number | null;
  totalTokens: number;
}
/**
 * `rate_limit.updated`.
 */
export interface RateLimitUpdated {
  limits: RateLimit[];
  /**
   * The provider's verdict when it gives one: `allowed`, `allowed_warning`, `rejected`.
   */
  status?: string | null;
}
/**
 * One rate-limit window.
 */
export interface RateLimit {
  /**
   * Which window: `primary`, `secondary`, `five_hour`, `seven_day`, ...
   */
  name: string;
  /**
   * When the window resets, seconds since the Unix epoch.
   */
  resetsAt?: number | null;
  /**
   * Percent of the window used (0-100).
   */
  usedPercent?: number | null;
  windowMinutes?: number | null;
}
/**
 * `model.rerouted`.
 */
export interface ModelRerouted {
  fromModel?: string | null;
  reason?: string | null;
  toModel?: string | null;
}
/**
 * `turn.completed`.
 */
export interface TurnCompleted {
  error?: string | null;
  state: TurnState;
}
/**
 * `handoff.started`.
 */
export interface HandoffStarted {
  from: ProviderId;
  strategy: HandoffStrategy;
  to: ProviderId;
}
/**
 * `handoff.completed`.
 */
export interface HandoffCompleted {
  from: ProviderId;
  strategy: HandoffStrategy;
  /**
   * Size of the handoff text prepended to the next turn.
   */
  summaryChars: number;
  to: ProviderId;
}
/**
 * `handoff.failed`.
 */
export interface HandoffFailed {
  error: string;
  from: ProviderId;
  to: ProviderId;
}
/**
 * `runtime.warning`.
 */
export interface RuntimeWarning {
  message: string;
}
/**
 * `runtime.error`.
 */
export interface RuntimeError {
  /**
   * A stable category: `provider`, `protocol`, `store`, `process`, `timeout`.
   */
  class: string;
  message: string;
}
/**
 * What a switch handed over.
 */
export interface HandoffInfo {
  strategy: HandoffStrategy;
  summaryChars: number;
}
/**
 * Options an editor may pass in `initialize.initializationOptions`.
 */
export interface InitializationOptions {
  /**
   * Treat an approval the editor has not answered within this many seconds as declined
   * (default: wait forever).
   */
  approvalTimeoutSecs?: number | null;
  /**
   * Soft-stop provider sessions idle longer than this many seconds (default: `--idle-timeout`).
   */
  idleTimeoutSecs?: number | null;
  /**
   * Attach the provider's raw message under `data.raw` of live `thread/event` notifications.
   * Raw messages are not persisted, so `thread/read` never carries them.
   */
  includeRaw?: boolean;
  /**
   * At most this many live provider sessions (processes or shared-process threads): beyond
   * it the least recently used idle ones are soft-stopped, keeping their binding and resume
   * cursor (default: `--max-live-sessions`, 8; 0 = no limit).
   */
  maxLiveSessions?: number | null;
  /**
   * Provider entries that add to or override the config file's `[providers]` for this editor
   * session: an object of `{<id>: {kind?, command?, env?, fs?}}`, the same shape as the file.
   */
  providers?: {
    [k: string]: unknown | undefined;
  };
  /**
   * Fail a running turn when its provider sends nothing for this many seconds, while no
   * approval or question is pending (default: `--turn-inactivity-timeout`, 600; 0 = never).
   */
  turnInactivityTimeoutSecs?: number | null;
}
/**
 * Params of `initialize`. LSP `InitializeParams` are accepted as they are; unknown fields are ignored.
 */
export interface InitializeParams {
  /**
   * LSP client capabilities; baton does not depend on any.
   */
  capabilities?: {
    [k: string]: unknown | undefined;
  };
  /**
   * Who the editor is.
   */
  clientInfo?: ClientInfo | null;
  /**
   * baton's own options.
   */
  initializationOptions?: InitializationOptions | null;
  /**
   * The editor's process id, if it has one.
   */
  processId?: number | null;
  /**
   * LSP root URI; informational.
   */
  rootUri?: string | null;
}
/**
 * Result of `initialize`.
 */
export interface InitializeResult {
  /**
   * Reserved for future capability flags; always an object.
   */
  capabilities: ServerCapabilities;
  /**
   * Problems in the config file or in `initializationOptions.providers` (file, line, key and
   * message, one per string); the valid providers are served all the same.
   */
  configErrors?: string[];
  /**
   * The baton protocol version; see `PROTOCOL_VERSION`.
   */
  protocolVersion: number;
  /**
   * The providers baton knows, with their availability.
   */
  providers: ProviderInfo[];
  serverInfo: ServerInfo;
}
/**
 * Server capabilities; empty in protocol version 1.
 */
export interface ServerCapabilities {}
/**
 * One provider, as found on this machine.
 */
export interface ProviderInfo {
  /**
   * Whether the binary was found and answered `--version`.
   */
  available: boolean;
  capabilities: ProviderCapabilities;
  /**
   * Why the provider is unavailable.
   */
  error?: string | null;
  id: ProviderId;
  /**
   * The adapter behind the id.
   */
  kind: ProviderKind;
  /**
   * The binary baton runs.
   */
  path?: string | null;
  version?: string | null;
}
/**
 * What a provider supports.
 */
export interface ProviderCapabilities {
  approvals: boolean;
  compact: boolean;
  inSessionModelSwitch: boolean;
  interrupt: boolean;
  resume: boolean;
}
/**
 * Name and version of the server.
 */
export interface ServerInfo {
  name: string;
  version: string;
}
/**
 * Params of the server -> client request `input/request`.
 */
export interface InputRequestParams {
  questions: InputQuestion[];
  /**
   * baton's id for this request; it appears in `input.requested` / `input.resolved`.
   */
  requestId: string;
  threadId: string;
  turnId: string;
}
/**
 * Result of `input/request`: the answers by question id (option labels or free text).
 * `cancelled: true`, no answer at all, an error reply, a disconnect or a timeout cancels: the
 * agent is told the user declined to answer.
 */
export interface InputResponse {
  answers?: {
    [k: string]: string[] | undefined;
  };
  cancelled?: boolean;
}
/**
 * The baton process that drives a thread (holds its lease).
 */
export interface LeaseHolder {
  /**
   * The `clientInfo.name` its editor sent in `initialize`, if any.
   */
  client?: string | null;
  /**
   * Its latest heartbeat (milliseconds since the Unix epoch).
   */
  heartbeatAt: number;
  /**
   * Its process id.
   */
  pid: number;
  /**
   * When it took the lease (milliseconds since the Unix epoch).
   */
  since: number;
}
/**
 * Params of the `provider/changed` notification (baton -> editor): a background probe of the
 * provider binaries found something other than what `initialize` (or `provider/list`)
 * reported, e.g. a CLI that was upgraded, removed or broken since the last probe. Carries the
 * whole list, as `provider/list` would return it now.
 */
export interface ProviderChangedParams {
  providers: ProviderInfo[];
}
/**
 * Params of `provider/list` (none).
 */
export interface ProviderListParams {}
/**
 * Result of `provider/list`.
 */
export interface ProviderListResponse {
  /**
   * Problems in the config file or in `initializationOptions.providers`, as in `initialize`.
   */
  configErrors?: string[];
  providers: ProviderInfo[];
}
/**
 * A baton thread: one conversation, bound to a provider's native thread (the resume cursor).
 */
export interface Thread {
  approvalPolicy?: ApprovalPolicy | null;
  /**
   * Milliseconds since the Unix epoch.
   */
  createdAt: number;
  cwd: string;
  id: string;
  /**
   * The seq of the newest event in the thread's log (0 when empty).
   */
  lastSeq: number;
  model?: string | null;
  provider: ProviderId;
  /**
   * The provider's own thread/session id: the cursor the next session resumes.
   */
  providerThreadId?: string | null;
  sandbox?: SandboxMode | null;
  status: ThreadStatus;
  title?: string | null;
  /**
   * Milliseconds since the Unix epoch.
   */
  updatedAt: number;
}
/**
 * Params of `thread/compact/start`.
 */
export interface ThreadCompactStartParams {
  /**
   * Extra instructions for the summary.
   */
  instructions?: string | null;
  threadId: string;
}
/**
 * Params of `thread/delete`.
 */
export interface ThreadDeleteParams {
  threadId: string;
}
/**
 * `data` of error -32016: another live baton process drives the thread.
 */
export interface ThreadLeasedData {
  holder: LeaseHolder;
  threadId: string;
}
/**
 * Params of `thread/list`.
 */
export interface ThreadListParams {
  /**
   * The `nextCursor` of the previous page.
   */
  cursor?: string | null;
  /**
   * Only threads whose cwd is exactly this.
   */
  cwd?: string | null;
  /**
   * Page size (default 50, at most 500).
   */
  limit?: number | null;
}
/**
 * Result of `thread/list`: most recently updated first.
 */
export interface ThreadListResponse {
  /**
   * Present when more threads follow.
   */
  nextCursor?: string | null;
  threads: Thread[];
}
/**
 * Params of `thread/read`.
 */
export interface ThreadReadParams {
  /**
   * At most this many events (default: all).
   */
  limit?: number | null;
  /**
   * Only events with a greater seq (default 0: from the start).
   */
  sinceSeq?: number | null;
  threadId: string;
}
/**
 * Result of `thread/read`: the persisted events, in order, identical to the live notifications
 * (less `data.raw`, which is never persisted).
 */
export interface ThreadReadResponse {
  events: Event[];
  thread: Thread;
}
/**
 * Result of `thread/start`, `thread/stop`.
 */
export interface ThreadResponse {
  thread: Thread;
}
/**
 * Params of `thread/start`: create a thread and start its provider session at once.
 */
export interface ThreadStartParams {
  approvalPolicy?: ApprovalPolicy | null;
  /**
   * Absolute working directory of the agent.
   */
  cwd: string;
  model?: string | null;
  /**
   * The provider; left out, the config file's `default_provider` (else `codex`).
   */
  provider?: ProviderId | null;
  sandbox?: SandboxMode | null;
  title?: string | null;
}
/**
 * Params of `thread/stop`.
 */
export interface ThreadStopParams {
  /**
   * Also clear the resume cursor: the next turn starts a fresh provider thread.
   */
  detach?: boolean;
  threadId: string;
}
/**
 * Params of `thread/subscribe`: follow a thread whatever process drives it. The events with a
 * greater seq than `sinceSeq` are notified first (from the log), then every new one as it is
 * committed, as `thread/event`, with no gaps and no duplicates. The result is `{thread}`.
 */
export interface ThreadSubscribeParams {
  /**
   * Replay the log after this seq (default 0: the whole log).
   */
  sinceSeq?: number | null;
  threadId: string;
}
/**
 * Params of `thread/switch`.
 */
export interface ThreadSwitchParams {
  handoff?: HandoffMode & string;
  model?: string | null;
  provider: ProviderId;
  threadId: string;
}
/**
 * Result of `thread/switch`.
 */
export interface ThreadSwitchResponse {
  handoff: HandoffInfo;
  thread: Thread;
}
/**
 * Params of `thread/takeover`: ask the process that drives the thread to let go of it, and drive
 * it from here. The result is `{thread}` once this process holds the thread.
 */
export interface ThreadTakeoverParams {
  threadId: string;
}
/**
 * Params of `thread/unsubscribe`. The result is `{}`.
 */
export interface ThreadUnsubscribeParams {
  threadId: string;
}
/**
 * Params of `thread/update`: change a thread's settings. Absent fields stay as they are.
 */
export interface ThreadUpdateParams {
  /**
   * Applies from the next provider session: a live session is soft-stopped, and the next
   * turn resumes the same provider thread under the new policy.
   */
  approvalPolicy?: ApprovalPolicy | null;
  threadId: string;
  title?: string | null;
}
/**
 * Params of `turn/interrupt`.
 */
export interface TurnInterruptParams {
  threadId: string;
}
/**
 * Params of `turn/start`.
 */
export interface TurnStartParams {
  input: InputItem[];
  /**
   * `plan`: the agent plans (and may ask questions with `input/request`) instead of acting.
   * Codex: collaboration mode `plan`; Claude Code: permission mode `plan`. Absent = `default`.
   */
  mode?: TurnMode | null;
  /**
   * When it differs from the thread's model, the model is changed first.
   */
  model?: string | null;
  /**
   * When it differs from the thread's provider, the thread is switched first (as `thread/switch`
   * with `handoff: "auto"`).
   */
  provider?: ProviderId | null;
  threadId: string;
}
/**
 * Result of `turn/start`: the turn runs on; its events follow as notifications.
 */
export interface TurnStartResponse {
  turnId: string;
}

/** The protocol version these types describe. */
export const PROTOCOL_VERSION = 1;

/** Editor -> baton requests: params and result of each method. */
export interface ClientRequests {
  "initialize": { params: InitializeParams; result: InitializeResult };
  "provider/list": { params: ProviderListParams; result: ProviderListResponse };
  "shutdown": { params: null; result: null };
  "thread/compact/start": { params: ThreadCompactStartParams; result: EmptyResponse };
  "thread/delete": { params: ThreadDeleteParams; result: EmptyResponse };
  "thread/list": { params: ThreadListParams; result: ThreadListResponse };
  "thread/read": { params: ThreadReadParams; result: ThreadReadResponse };
  "thread/start": { params: ThreadStartParams; result: ThreadResponse };
  "thread/stop": { params: ThreadStopParams; result: ThreadResponse };
  "thread/subscribe": { params: ThreadSubscribeParams; result: ThreadResponse };
  "thread/switch": { params: ThreadSwitchParams; result: ThreadSwitchResponse };
  "thread/takeover": { params: ThreadTakeoverParams; result: ThreadResponse };
  "thread/unsubscribe": { params: ThreadUnsubscribeParams; result: EmptyResponse };
  "thread/update": { params: ThreadUpdateParams; result: ThreadResponse };
  "turn/interrupt": { params: TurnInterruptParams; result: EmptyResponse };
  "turn/start": { params: TurnStartParams; result: TurnStartResponse };
}

/** Notifications in either direction (`thread/event` is baton -> editor): params of each method. */
export interface Notifications {
  "$/cancelRequest": CancelParams;
  "exit": null;
  "initialized": Record<string, never>;
  "provider/changed": ProviderChangedParams;
  "thread/event": Event;
}

/** baton -> editor requests: params and result of each method. */
export interface ServerRequests {
  "approval/request": { params: ApprovalRequestParams; result: ApprovalResponse };
  "input/request": { params: InputRequestParams; result: InputResponse };
}
