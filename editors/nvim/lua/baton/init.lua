--- baton for Neovim: chat with coding agents (Codex, Claude Code) through the baton sidecar.
--- `require('baton').setup({ cmd = { 'baton' } })`; everything else is commands (`:h baton`) or
--- the functions re-exported here.
local M = {}

--- Defines the commands, the exit hook and the highlight groups; idempotent and independent of the
--- options, so `plugin/baton.lua` can run it whether or not setup() came first.
function M.init()
  require('baton.commands').create()
  local group = vim.api.nvim_create_augroup('baton', { clear = true })
  vim.api.nvim_create_autocmd('VimLeavePre', {
    group = group,
    callback = function()
      require('baton.client').stop()
    end,
  })
  for name, link in pairs({
    BatonUser = 'Title',
    BatonCommand = 'Statement',
    BatonOk = 'Comment',
    BatonError = 'ErrorMsg',
    BatonWarning = 'WarningMsg',
    BatonMarker = 'Special',
    BatonApproval = 'Question',
    BatonFileChange = 'Directory',
    BatonTool = 'Function',
    BatonProgress = 'Comment',
    BatonPlanActive = 'Todo',
  }) do
    vim.api.nvim_set_hl(0, name, { link = link, default = true })
  end
end

--- Configures the plugin (see `:h baton-setup`).
--- @param opts table?
function M.setup(opts)
  require('baton.config').set(opts)
  M.init()
  return M
end

local actions = require('baton.actions')

M.start = actions.start
M.send = actions.send
M.plan = actions.plan
M.interrupt = actions.interrupt
M.stop = actions.stop
M.compact = actions.compact
M.switch = actions.switch
M.open = actions.open
M.threads = actions.pick

--- `provider · model · state · N% ctx` of the current thread, for a statusline.
function M.statusline()
  return require('baton.statusline').statusline()
end

--- The current thread's view ({id, buf, provider, model, status, ...}) or nil.
function M.current()
  return require('baton.threads').current()
end

--- Stops the baton process (in order: shutdown, exit); the next command starts a new one.
function M.shutdown()
  require('baton.client').stop()
end

return M
