--- Answers baton's `approval/request` with the user's choice from `vim.ui.select`. The RPC layer
--- runs server requests in a coroutine, so the handler yields until the user chooses and the answer
--- goes back as the request's result.
local M = {}

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
  local ok, err = pcall(vim.ui.select, M.choices, {
    prompt = M.prompt(params),
    kind = 'baton.approval',
    format_item = function(c)
      return c.label
    end,
  }, finish)
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
  return { decision = answer or 'decline' }
end

return M
