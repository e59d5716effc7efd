--- The plugin's options: defaults merged with what `setup()` was given, in one place so every
--- module reads the same values.
local M = {}

M.defaults = {
  -- The command that starts baton (a list, as for vim.system).
  cmd = { 'baton' },
  -- Extra environment for baton (merged into Neovim's own).
  env = nil,
  -- Provider of new threads when `:BatonStart` names none.
  default_provider = 'codex',
  -- Model of new threads (nil: the provider's default).
  model = nil,
  -- `thread/start` options: "untrusted" | "on-request" | "never", and
  -- "read-only" | "workspace-write" | "danger-full-access".
  approval_policy = nil,
  sandbox = nil,
  -- Working directory of new threads (nil: Neovim's current directory).
  cwd = nil,
  -- baton's `initializationOptions` (includeRaw, idleTimeoutSecs, approvalTimeoutSecs).
  init_options = {},
  -- Where a chat buffer opens: "vsplit" | "split" | "tab" | "current" | "none".
  open = 'vsplit',
  -- Bound on the requests the plugin waits for synchronously (initialize, shutdown).
  timeout_ms = 20000,
}

M.options = vim.deepcopy(M.defaults)

--- Merges user options over the defaults.
--- @param opts table?
function M.set(opts)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  return M.options
end

return M
