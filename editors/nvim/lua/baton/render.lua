--- Turns `thread/event`s into the lines of a thread's chat buffer. Streamed text is appended in
--- place (a delta continues the line the previous delta of the same item ended on), reasoning lines
--- carry a `┆ ` prefix that the buffer's foldexpr folds away, and everything else becomes one
--- marker line per event, so live streaming and a `thread/read` replay produce the same buffer.
local M = {}

M.prefix = {
  assistant = '',
  reasoning = '┆ ',
  command_output = '│ ',
}

local ns = vim.api.nvim_create_namespace('baton')

--- A fresh chat buffer for a view.
--- @param view baton.View
--- @return integer buf
function M.create_buffer(view)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = false
  vim.b[buf].baton_thread_id = view.id
  vim.b[buf].baton_empty = true
  M.name_buffer(view, buf)
  vim.bo[buf].filetype = 'baton'
  vim.api.nvim_create_autocmd('BufWinEnter', {
    buffer = buf,
    callback = function()
      M.set_window_options(vim.api.nvim_get_current_win())
    end,
  })
  return buf
end

--- Folds reasoning (and compaction summaries) closed in a window showing a chat buffer.
function M.set_window_options(win)
  local wo = vim.wo[win][0]
  wo.foldmethod = 'expr'
  wo.foldexpr = [[getline(v:lnum)=~#'^┆'?1:0]]
  wo.foldlevel = 0
  wo.foldenable = true
  wo.wrap = true
  wo.linebreak = true
  wo.number = false
  wo.relativenumber = false
  wo.signcolumn = 'no'
end

--- Names the buffer after its thread: `baton://<provider>/<title or id>`.
function M.name_buffer(view, buf)
  buf = buf or view.buf
  if not buf or not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  local name = ('baton://%s/%s'):format(view.provider or 'thread', view.title or view.id)
  pcall(vim.api.nvim_buf_set_name, buf, name)
end

--- Moves every window whose cursor sat on the last line down to the new last line.
local function follow(buf, before)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    local row = vim.api.nvim_win_get_cursor(win)[1]
    if row >= before then
      pcall(vim.api.nvim_win_set_cursor, win, { vim.api.nvim_buf_line_count(buf), 0 })
    end
  end
end

function M.scroll_to_end(view)
  for _, win in ipairs(vim.fn.win_findbuf(view.buf)) do
    pcall(vim.api.nvim_win_set_cursor, win, { vim.api.nvim_buf_line_count(view.buf), 0 })
  end
end

local function with_modifiable(buf, fn)
  vim.bo[buf].modifiable = true
  local before = vim.api.nvim_buf_line_count(buf)
  local ok, err = pcall(fn)
  vim.bo[buf].modifiable = false
  follow(buf, before)
  if not ok then
    error(err)
  end
end

--- Appends whole lines (each string may hold newlines) and closes any open stream.
--- @param view baton.View
--- @param lines string[]
--- @param hl string? highlight group of the first line
function M.lines(view, lines, hl)
  local buf = view.buf
  local flat = {}
  for _, l in ipairs(lines) do
    for _, part in ipairs(vim.split(l, '\n', { plain = true })) do
      table.insert(flat, part)
    end
  end
  view.r.open = nil
  with_modifiable(buf, function()
    local first
    if vim.b[buf].baton_empty then
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, flat)
      vim.b[buf].baton_empty = false
      first = 0
    else
      first = vim.api.nvim_buf_line_count(buf)
      vim.api.nvim_buf_set_lines(buf, -1, -1, false, flat)
    end
    if hl and #flat > 0 then
      local last = first + #flat - 1
      vim.api.nvim_buf_set_extmark(buf, ns, first, 0, {
        end_row = last,
        end_col = #flat[#flat],
        hl_group = hl,
      })
    end
  end)
end

--- Appends streamed text: it continues the stream's open line, new lines get the stream's prefix.
--- @param view baton.View
--- @param key string the item and stream the text belongs to
--- @param text string
--- @param prefix string
--- @param header string? a line put before the stream when it opens
function M.stream(view, key, text, prefix, header)
  if view.r.open ~= key then
    local opening = {}
    if header then
      table.insert(opening, header)
    end
    table.insert(opening, prefix)
    M.lines(view, opening)
    view.r.open = key
  end
  local buf = view.buf
  local parts = vim.split(text, '\n', { plain = true })
  with_modifiable(buf, function()
    local last = vim.api.nvim_buf_line_count(buf)
    local line = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ''
    local new = { line .. parts[1] }
    for i = 2, #parts do
      table.insert(new, prefix .. parts[i])
    end
    vim.api.nvim_buf_set_lines(buf, last - 1, last, false, new)
  end)
end

--- Prefixes every line of a text.
local function prefixed(prefix, text)
  local out = {}
  for _, l in ipairs(vim.split(text or '', '\n', { plain = true })) do
    table.insert(out, prefix .. l)
  end
  return out
end

local function marker(text)
  return '── ' .. text .. ' ──'
end

local item_renderers = {}

function item_renderers.user_message(view, d)
  M.lines(view, vim.list_extend({ '' }, prefixed('> ', d.text or '')), 'BatonUser')
end

function item_renderers.assistant_message(view, d)
  if d.text and d.text ~= '' then
    M.lines(view, vim.split(d.text, '\n', { plain = true }))
  end
end

function item_renderers.reasoning(view, d)
  if d.text and d.text ~= '' then
    M.lines(view, vim.list_extend({ 'reasoning:' }, prefixed(M.prefix.reasoning, d.text)))
  end
end

function item_renderers.command(view, d, ev)
  if not view.r.commands[ev.itemId or ''] then
    M.lines(view, { '$ ' .. (d.command or '?') }, 'BatonCommand')
  end
  if d.output and d.output ~= '' and not view.r.streamed[(ev.itemId or '') .. ':command_output'] then
    M.lines(view, prefixed(M.prefix.command_output, vim.trim(d.output)))
  end
  local status = d.exitCode and ('exit ' .. d.exitCode) or (d.status or 'done')
  M.lines(view, { '  [' .. status .. ']' }, d.exitCode == 0 and 'BatonOk' or 'BatonError')
end

function item_renderers.file_change(view, d)
  local lines = {}
  for _, c in ipairs(d.changes or {}) do
    table.insert(lines, ('✎ %s %s'):format(c.kind or 'update', c.path or '?'))
  end
  if #lines == 0 then
    table.insert(lines, '✎ file change')
  end
  if d.status and d.status ~= 'completed' then
    lines[#lines] = lines[#lines] .. ' [' .. d.status .. ']'
  end
  M.lines(view, lines, 'BatonFileChange')
end

function item_renderers.tool_call(view, d)
  M.lines(view, { ('⚙ %s%s'):format(d.tool or 'tool', d.status and (' [' .. d.status .. ']') or '') })
end

function item_renderers.web_search(view, d)
  M.lines(view, { '⌕ ' .. (d.text or 'web search') })
end

function item_renderers.plan(view, d)
  M.lines(view, vim.list_extend({ 'plan:' }, prefixed('  ', d.text or '')))
end

function item_renderers.other(view, d)
  if d.text and d.text ~= '' then
    M.lines(view, { d.text })
  end
end

local event_renderers = {}

event_renderers['session.started'] = function(view, d, ev)
  local what = ev.provider or view.provider or '?'
  if d.model then
    what = what .. ' · ' .. d.model
  end
  M.lines(view, { marker('session ' .. (d.resumed and 'resumed' or 'started') .. ': ' .. what) }, 'BatonMarker')
end

event_renderers['session.exited'] = function(view, d)
  M.lines(view, { marker('session ' .. (d.reason or 'exited') .. (d.message and (': ' .. d.message) or '')) }, 'BatonMarker')
end

event_renderers['content.delta'] = function(view, d, ev)
  local stream = d.stream or 'assistant'
  local key = (ev.itemId or '') .. ':' .. stream
  local header = nil
  if not view.r.streamed[key] then
    view.r.streamed[key] = true
    if stream == 'reasoning' then
      header = 'reasoning:'
    end
  end
  M.stream(view, key, d.delta or '', M.prefix[stream] or '', header)
end

event_renderers['item.started'] = function(view, d, ev)
  if d.itemType == 'command' and ev.itemId then
    view.r.commands[ev.itemId] = true
    M.lines(view, { '$ ' .. (d.command or '?') }, 'BatonCommand')
  elseif d.itemType == 'user_message' and d.text and d.text ~= '' and ev.itemId then
    view.r.done[ev.itemId] = true
    item_renderers.user_message(view, d)
  end
end

event_renderers['item.completed'] = function(view, d, ev)
  local id = ev.itemId or ''
  if view.r.done[id] and id ~= '' then
    return
  end
  view.r.done[id] = true
  -- Streamed items are already on screen; their completion only closes the stream.
  if d.itemType == 'assistant_message' and view.r.streamed[id .. ':assistant'] then
    view.r.open = nil
    return
  elseif d.itemType == 'reasoning' and view.r.streamed[id .. ':reasoning'] then
    view.r.open = nil
    return
  elseif d.itemType == 'compaction' then
    return
  end
  local fn = item_renderers[d.itemType] or item_renderers.other
  fn(view, d, ev)
end

event_renderers['approval.requested'] = function(view, d)
  M.lines(view, { '? approval: ' .. (d.title or d.command or d.kind or '') }, 'BatonApproval')
end

event_renderers['approval.resolved'] = function(view, d)
  M.lines(view, { '  → ' .. (d.decision or '?') .. (d.by and (' (' .. d.by .. ')') or '') }, 'BatonApproval')
end

event_renderers['turn.completed'] = function(view, d)
  if d.state == 'completed' then
    view.r.open = nil
  else
    M.lines(view, { '! turn ' .. (d.state or 'ended') .. (d.error and (': ' .. d.error) or '') }, 'BatonError')
  end
end

event_renderers['compaction.started'] = function(view, d)
  M.lines(view, { marker('compacting (' .. (d.trigger or 'manual') .. ')') }, 'BatonMarker')
end

event_renderers['compaction.completed'] = function(view, d)
  local tokens = ''
  if d.preTokens and d.postTokens then
    tokens = (', %d → %d tokens'):format(d.preTokens, d.postTokens)
  end
  M.lines(view, { marker('compacted (' .. (d.trigger or 'manual') .. tokens .. ')') }, 'BatonMarker')
  if d.summary and d.summary ~= '' then
    M.lines(view, prefixed(M.prefix.reasoning, d.summary))
  end
end

event_renderers['compaction.failed'] = function(view, d)
  M.lines(view, { '! compaction failed: ' .. (d.error or '?') }, 'BatonError')
end

event_renderers['handoff.started'] = function(view, d)
  M.lines(view, { marker(('handing off %s → %s (%s)'):format(d.from, d.to, d.strategy)) }, 'BatonMarker')
end

event_renderers['handoff.completed'] = function(view, d)
  M.lines(
    view,
    { marker(('handoff %s → %s (%s, %d chars)'):format(d.from, d.to, d.strategy, d.summaryChars or 0)) },
    'BatonMarker'
  )
end

event_renderers['handoff.failed'] = function(view, d)
  M.lines(view, { ('! handoff %s → %s failed: %s'):format(d.from, d.to, d.error or '?') }, 'BatonError')
end

event_renderers['runtime.warning'] = function(view, d)
  M.lines(view, { '⚠ ' .. (d.message or '') }, 'BatonWarning')
end

event_renderers['runtime.error'] = function(view, d)
  M.lines(view, { '! error (' .. (d.class or '?') .. '): ' .. (d.message or '') }, 'BatonError')
end

--- Renders one event into its view's buffer.
--- @param view baton.View
--- @param ev table
function M.event(view, ev)
  local r = view.r
  r.streamed = r.streamed or {}
  r.commands = r.commands or {}
  r.done = r.done or {}
  local fn = event_renderers[ev.type]
  if fn and vim.api.nvim_buf_is_valid(view.buf) then
    fn(view, ev.data or {}, ev)
  end
end

--- The chat buffer's text, for tests and yanking.
function M.text(view)
  return table.concat(vim.api.nvim_buf_get_lines(view.buf, 0, -1, false), '\n')
end

return M
