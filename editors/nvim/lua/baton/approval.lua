--- Answers baton's `approval/request` with the user's choice from `vim.ui.select`. The RPC layer
--- runs server requests in a coroutine, so the handler yields until the user chooses and the answer
--- goes back as the request's result.
local M = {}

--- Prompts open for baton's requests, by requestId: `withdraw(by)` closes the prompt and ends the
--- wait. baton withdraws a request whose turn ended (interrupt, stop, provider exit, timeout):
--- it records `approval.resolved` / `input.resolved` with `by`, which is what reaches us here (the
--- RPC layer gives handlers no request id to match its `$/cancelRequest` against).
--- @type table<string, fun(by: string)>
M.pending = {}

--- Calls `open()` (which shows a `vim.ui` prompt) and returns the windows it opened, so a
--- withdrawal can close them (asynchronous pickers show floating windows; the built-in prompt
--- blocks and opens none).
--- @param open fun()
--- @return integer[]
function M.opened_windows(open)
  local before = {}
  for _, w in ipairs(vim.api.nvim_list_wins()) do
    before[w] = true
  end
  open()
  local opened = {}
  for _, w in ipairs(vim.api.nvim_list_wins()) do
    if not before[w] then
      table.insert(opened, w)
    end
  end
  return opened
end

--- Closes the windows a prompt opened (those still open).
--- @param wins integer[]
function M.close_windows(wins)
  for _, w in ipairs(wins or {}) do
    if vim.api.nvim_win_is_valid(w) then
      pcall(vim.api.nvim_win_close, w, true)
    end
  end
end

--- baton withdrew request `id` (see `M.pending`); a prompt for it closes, its answer is void.
--- @param id string
--- @param by string
function M.withdraw(id, by)
  local withdraw = M.pending[id]
  if withdraw then
    M.pending[id] = nil
    withdraw(by)
  end
end

M.choices = {
  { decision = 'accept', label = 'Accept' },
  { decision = 'acceptForSession', label = 'Accept for session' },
  { decision = 'decline', label = 'Decline' },
}

--- The one-line prompt of a request.
--- @param p table approval/request params
function M.prompt(p)
  local lines = { 'baton: ' .. (p.title or p.kind or 'approval') }
  if p.command and p.command ~= '' then
    table.insert(lines, '  $ ' .. p.command)
  end
  if p.cwd then
    table.insert(lines, '  in ' .. p.cwd)
  end
  for _, c in ipairs(p.changes or {}) do
    table.insert(lines, '  ' .. (c.kind or '?') .. ' ' .. (c.path or '?'))
  end
  if p.reason and p.reason ~= '' then
    table.insert(lines, '  why: ' .. p.reason)
  end
  return table.concat(lines, '\n') .. '\n'
end

--- Asks the user; returns the `approval/request` result. Dismissing the prompt declines.
--- @param params table
--- @return table result
function M.ask(params)
  local co = coroutine.running()
  local answer, waiting = nil, false
  local function finish(choice)
    if answer ~= nil then
      return
    end
    answer = choice and choice.decision or 'decline'
    if waiting then
      -- Resume outside the select callback so the UI that called us has finished its work.
      vim.schedule(function()
        local ok, err = coroutine.resume(co)
        if not ok then
          vim.notify('baton approval: ' .. tostring(err), vim.log.levels.ERROR)
        end
      end)
    end
  end
  require('baton.threads').show_approval(params)
  local ok, err
  local wins = M.opened_windows(function()
    ok, err = pcall(vim.ui.select, M.choices, {
      prompt = M.prompt(params),
      kind = 'baton.approval',
      format_item = function(c)
        return c.label
      end,
    }, finish)
  end)
  if answer == nil and params.requestId then
    M.pending[params.requestId] = function(by)
      vim.notify('baton: the approval was withdrawn (' .. by .. ')', vim.log.levels.INFO)
      finish({ decision = 'cancel' })
      M.close_windows(wins)
    end
  end
  if not ok then
    vim.notify('baton approval prompt failed: ' .. tostring(err), vim.log.levels.ERROR)
    finish(nil)
  end
  if answer == nil then
    if co and coroutine.isyieldable() then
      waiting = true
      coroutine.yield()
    else
      -- Outside a coroutine (a direct call) the only way to wait is the event loop, bounded by
      -- baton's own approval timeout on its side.
      vim.wait(600000, function()
        return answer ~= nil
      end, 50)
    end
  end
  if params.requestId then
    M.pending[params.requestId] = nil
  end
  return { decision = answer or 'decline' }
end

return M
