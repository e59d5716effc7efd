--- Answers baton's `input/request` (the agent asks the user questions): each question is asked in
--- turn with `vim.ui.select` over its options (plus "Other…" when free text is allowed, which goes
--- on to `vim.ui.input`; a question without options is asked with `vim.ui.input` directly). Like
--- approvals, the handler runs in the RPC layer's coroutine and yields while the user chooses.
--- Dismissing any prompt cancels the whole request: the reply is `{cancelled = true}`.
local M = {}

M.other = 'Other…'
M.done = 'Done'

--- The request being asked: its prompt's callback and windows, so baton can withdraw it.
--- @type { withdrawn: boolean, done: fun(v: any)?, wins: integer[]? }?
local asking = nil

--- Calls `start(callback)` and waits for the callback's value: by yielding when inside a coroutine
--- (the RPC layer's), else in the event loop (bounded by baton's own timeout on its side).
local function await(start)
  if asking and asking.withdrawn then
    return nil
  end
  local co = coroutine.running()
  local finished, value, waiting = false, nil, false
  local function done(v)
    if finished then
      return
    end
    finished, value = true, v
    if waiting then
      -- Resume outside the UI callback, so the picker that called it has finished its work.
      vim.schedule(function()
        local ok2, err2 = coroutine.resume(co)
        if not ok2 then
          vim.notify('baton input: ' .. tostring(err2), vim.log.levels.ERROR)
        end
      end)
    end
  end
  local ok, err
  local wins = require('baton.approval').opened_windows(function()
    ok, err = pcall(start, done)
  end)
  if asking then
    asking.done, asking.wins = done, wins
  end
  if not ok then
    vim.notify('baton input prompt failed: ' .. tostring(err), vim.log.levels.ERROR)
    return nil
  end
  if not finished then
    if co and coroutine.isyieldable() then
      waiting = true
      coroutine.yield()
    else
      vim.wait(600000, function()
        return finished
      end, 50)
    end
  end
  return value
end

--- The prompt of a question: `baton: [header] question`.
--- @param q table InputQuestion
function M.prompt(q)
  local head = q.header and q.header ~= '' and ('[' .. q.header .. '] ') or ''
  return 'baton: ' .. head .. (q.question or '?')
end

local function free_text(q, prompt)
  local text = await(function(done)
    vim.ui.input({ prompt = (prompt or M.prompt(q)) .. ' ', secret = q.secret or nil }, done)
  end)
  if text == nil then
    return nil
  end
  return text
end

--- Asks one question; returns the list of answers, or nil when the user dismissed it.
--- @param q table InputQuestion
--- @return string[]?
function M.ask_question(q)
  local options = q.options or {}
  if #options == 0 then
    local text = free_text(q)
    return text and { text } or nil
  end
  local picked = {}
  while true do
    local items = {}
    for _, o in ipairs(options) do
      if not vim.tbl_contains(picked, o.label) then
        table.insert(items, { label = o.label, description = o.description, option = true })
      end
    end
    if q.allowOther then
      table.insert(items, { label = M.other, other = true })
    end
    if q.multiSelect and #picked > 0 then
      table.insert(items, { label = M.done, done = true })
    end
    local prompt = M.prompt(q)
    if q.multiSelect then
      prompt = prompt .. (#picked > 0 and (' (picked: ' .. table.concat(picked, ', ') .. ')') or ' (pick one or more)')
    end
    local choice = await(function(done)
      vim.ui.select(items, {
        prompt = prompt,
        kind = 'baton.input',
        format_item = function(it)
          if it.description and it.description ~= '' and it.description ~= it.label then
            return it.label .. ' — ' .. it.description
          end
          return it.label
        end,
      }, function(it)
        done(it or false)
      end)
    end)
    if not choice then
      return nil
    end
    if choice.done then
      return picked
    end
    local answer = choice.label
    if choice.other then
      answer = free_text(q, M.prompt(q) .. ':')
      if answer == nil then
        return nil
      end
    end
    table.insert(picked, answer)
    if not q.multiSelect or #items == 0 then
      return picked
    end
  end
end

--- Asks every question of an `input/request`; returns its result.
--- @param params table InputRequestParams
--- @return table result `{answers = {[id] = {...}}}` or `{cancelled = true}`
function M.ask(params)
  require('baton.threads').show_approval(params)
  local approval = require('baton.approval')
  local this = { withdrawn = false }
  asking = this
  if params.requestId then
    approval.pending[params.requestId] = function(by)
      vim.notify('baton: the question was withdrawn (' .. by .. ')', vim.log.levels.INFO)
      this.withdrawn = true
      if this.done then
        this.done(nil)
      end
      approval.close_windows(this.wins)
    end
  end
  local answers = {}
  local function finish(result)
    if asking == this then
      asking = nil
    end
    if params.requestId then
      approval.pending[params.requestId] = nil
    end
    return result
  end
  for _, q in ipairs(params.questions or {}) do
    local a = M.ask_question(q)
    if a == nil or this.withdrawn then
      return finish({ cancelled = true })
    end
    answers[q.id] = a
  end
  finish(nil)
  if next(answers) == nil then
    return { cancelled = true }
  end
  return { answers = answers }
end

return M
