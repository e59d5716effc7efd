--- The user commands: `:BatonStart`, `:BatonSend`, `:BatonPlan`, ... and the umbrella `:Baton {sub}` with
--- completion. They only parse arguments; the work is in `baton.actions`.
local actions = require('baton.actions')

local M = {}

--- The provider ids to complete: what the running baton reported (`initialize`'s providers, the
--- same list as `provider/list`), else the two built-in ones.
local function providers()
  local server = require('baton.client').server
  local ids = {}
  for _, p in ipairs(server and server.providers or {}) do
    ids[#ids + 1] = p.id
  end
  if #ids == 0 then
    ids = { 'codex', 'claude' }
  end
  return ids
end

--- The visual selection (or range) of the current buffer as prompt context with its file name.
local function selection_context(line1, line2)
  local buf = vim.api.nvim_get_current_buf()
  local lines = vim.api.nvim_buf_get_lines(buf, line1 - 1, line2, false)
  local name = vim.api.nvim_buf_get_name(buf)
  name = name ~= '' and vim.fn.fnamemodify(name, ':~:.') or '[No Name]'
  return ('%s (lines %d-%d):\n```%s\n%s\n```'):format(
    name,
    line1,
    line2,
    vim.bo[buf].filetype,
    table.concat(lines, '\n')
  )
end

--- `:BatonSend [text]`: with a range the selected lines go along; without text, asks for it.
--- `mode` is the turn's mode (`plan` for `:BatonPlan`).
local function send(args, mode)
  local context = nil
  if args.range > 0 and not vim.b.baton_thread_id then
    context = selection_context(args.line1, args.line2)
  end
  local function go(text)
    if not text or vim.trim(text) == '' then
      return
    end
    actions.send(context and (text .. '\n\n' .. context) or text, nil, mode and { mode = mode } or nil)
  end
  if args.args ~= '' then
    go(args.args)
  else
    vim.ui.input({ prompt = mode == 'plan' and 'baton plan> ' or 'baton> ' }, go)
  end
end

--- `:BatonPlan [text]`: `:BatonSend` in plan mode.
local function plan(args)
  send(args, 'plan')
end

M.subcommands = {
  start = function(a)
    actions.start({ provider = a.fargs[1], model = a.fargs[2] })
  end,
  send = function(a)
    send(a)
  end,
  plan = plan,
  interrupt = function()
    actions.interrupt()
  end,
  stop = function(a)
    actions.stop(a.bang)
  end,
  threads = function()
    actions.pick()
  end,
  switch = function(a)
    if not a.fargs[1] then
      return vim.notify('baton: switch needs a provider', vim.log.levels.ERROR)
    end
    actions.switch(a.fargs[1], a.fargs[2])
  end,
  compact = function(a)
    actions.compact(a.args)
  end,
  takeover = function()
    actions.takeover()
  end,
}
M.subcommands.new = M.subcommands.start

local function complete_provider(arglead)
  return vim.tbl_filter(function(p)
    return vim.startswith(p, arglead)
  end, providers())
end

--- Defines the commands (idempotent).
function M.create()
  local cmd = vim.api.nvim_create_user_command
  cmd('BatonStart', M.subcommands.start, { nargs = '*', complete = complete_provider, desc = 'baton: new thread [provider] [model]' })
  cmd('BatonSend', send, { nargs = '*', range = true, desc = 'baton: send a prompt (with the selected lines)' })
  cmd('BatonPlan', plan, { nargs = '*', range = true, desc = 'baton: send a prompt in plan mode (with the selected lines)' })
  cmd('BatonInterrupt', M.subcommands.interrupt, { desc = 'baton: interrupt the running turn' })
  cmd('BatonStop', M.subcommands.stop, { bang = true, desc = 'baton: stop the session (! detaches)' })
  cmd('BatonThreads', M.subcommands.threads, { desc = 'baton: pick a thread and open it' })
  cmd('BatonSwitch', M.subcommands.switch, { nargs = '+', complete = complete_provider, desc = 'baton: switch provider [model]' })
  cmd('BatonCompact', M.subcommands.compact, { nargs = '*', desc = 'baton: compact the context [instructions]' })
  cmd('BatonTakeover', M.subcommands.takeover, { desc = 'baton: take the thread over from the window that drives it' })
  cmd('Baton', function(a)
    local sub = table.remove(a.fargs, 1)
    local fn = sub and M.subcommands[sub]
    if not fn then
      return vim.notify('baton: unknown subcommand ' .. tostring(sub), vim.log.levels.ERROR)
    end
    a.args = vim.trim((a.args:gsub('^%s*%S+%s*', '', 1)))
    fn(a)
  end, {
    nargs = '+',
    bang = true,
    range = true,
    desc = 'baton: new | send | plan | threads | stop | interrupt | compact | switch | takeover',
    complete = function(arglead, line)
      local words = vim.split(line, '%s+', { trimempty = true })
      if #words <= 1 or (#words == 2 and arglead ~= '') then
        return vim.tbl_filter(function(s)
          return vim.startswith(s, arglead)
        end, vim.tbl_keys(M.subcommands))
      end
      if words[2] == 'new' or words[2] == 'start' or words[2] == 'switch' then
        return complete_provider(arglead)
      end
      return {}
    end,
  })
end

return M
