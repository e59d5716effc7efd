--- Turns `thread/event`s into the lines of a thread's chat buffer. Streamed text is appended in
--- place (a delta continues the line the previous delta of the same item ended on), reasoning lines
--- carry a `┆ ` prefix that the buffer's foldexpr folds away, and everything else becomes one
--- marker line per event, so live streaming and a `thread/read` replay produce the same buffer.
local M = {}

M.prefix = {
  assistant = '',
  reasoning = '┆ ',
  reasoning_summary = '┆ ',
  command_output = '│ ',
  tool_output = '│ ',
  plan = '  ',
}

--- Lines of a turn's aggregated diff carry this prefix; they fold like reasoning.
M.diff_prefix = '┊ '

--- The header line a stream gets when it opens.
local stream_headers = {
  reasoning = 'reasoning:',
  reasoning_summary = 'reasoning summary:',
  plan = 'proposed plan:',
}

local ns = vim.api.nvim_create_namespace('baton')
--- Marks of the blocks that are replaced in place (plans, diffs, progress lines).
local block_ns = vim.api.nvim_create_namespace('baton.blocks')

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
  wo.foldexpr = [[getline(v:lnum)=~#'^\%(┆\|┊\)'?1:0]]
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

--- Highlights rows [first, first + #lines) of a buffer: `hl` is a group for all of them or a
--- function (line -> group or nil) per line.
local function highlight(buf, first, lines, hl)
  for i, l in ipairs(lines) do
    local group = hl
    if type(hl) == 'function' then
      group = hl(l)
    end
    if group and #l > 0 then
      vim.api.nvim_buf_set_extmark(buf, ns, first + i - 1, 0, { end_col = #l, hl_group = group })
    end
  end
end

--- Shows a block that a later event replaces in place (a turn's plan or diff, an item's progress):
--- the first call appends it, later calls with the same key swap its lines wherever it stands, so
--- the buffer never holds two versions and a replay renders the same as the live stream.
--- @param view baton.View
--- @param key string
--- @param lines string[]
--- @param hl string|fun(line: string): string?|nil
function M.block(view, key, lines, hl)
  local buf = view.buf
  view.r.blocks = view.r.blocks or {}
  local marks = view.r.blocks[key]
  local first, last
  if marks then
    local s = vim.api.nvim_buf_get_extmark_by_id(buf, block_ns, marks[1], {})
    local e = vim.api.nvim_buf_get_extmark_by_id(buf, block_ns, marks[2], {})
    if s[1] and e[1] and e[1] >= s[1] then
      first, last = s[1], e[1]
    end
  end
  if not first then
    M.lines(view, lines)
    last = vim.api.nvim_buf_line_count(buf) - 1
    first = last - #lines + 1
  else
    with_modifiable(buf, function()
      vim.api.nvim_buf_clear_namespace(buf, ns, first, last + 1)
      vim.api.nvim_buf_set_lines(buf, first, last + 1, false, lines)
    end)
    last = first + #lines - 1
  end
  if hl then
    highlight(buf, first, lines, hl)
  end
  view.r.blocks[key] = {
    vim.api.nvim_buf_set_extmark(buf, block_ns, first, 0, { id = marks and marks[1] or nil }),
    vim.api.nvim_buf_set_extmark(buf, block_ns, last, 0, { id = marks and marks[2] or nil }),
  }
end

--- Removes a block shown by `M.block` (e.g. the progress line of an item that completed).
function M.remove_block(view, key)
  local marks = view.r.blocks and view.r.blocks[key]
  if not marks then
    return
  end
  view.r.blocks[key] = nil
  local buf = view.buf
  local s = vim.api.nvim_buf_get_extmark_by_id(buf, block_ns, marks[1], {})
  local e = vim.api.nvim_buf_get_extmark_by_id(buf, block_ns, marks[2], {})
  vim.api.nvim_buf_del_extmark(buf, block_ns, marks[1])
  vim.api.nvim_buf_del_extmark(buf, block_ns, marks[2])
  if s[1] and e[1] and e[1] >= s[1] and vim.api.nvim_buf_line_count(buf) > e[1] - s[1] + 1 then
    with_modifiable(buf, function()
      vim.api.nvim_buf_set_lines(buf, s[1], e[1] + 1, false, {})
    end)
  end
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

--- `⚙ server/tool` of a tool, MCP tool or sub-agent item.
function M.tool_label(d)
  if d.itemType == 'mcp_tool_call' then
    return '⚙ ' .. (d.server and (d.server .. '/') or '') .. (d.tool or 'tool')
  elseif d.itemType == 'subagent' then
    return '⚙ subagent' .. (d.tool and (' ' .. d.tool) or '')
  end
  return '⚙ ' .. (d.tool or 'tool')
end

function item_renderers.tool_call(view, d, ev)
  local id = ev and ev.itemId or ''
  local started = view.r.tools[id]
  local status = d.status and d.status ~= 'completed' and (' [' .. d.status .. ']') or ''
  if not started then
    M.lines(view, { M.tool_label(d) .. status }, 'BatonTool')
  elseif status ~= '' then
    M.lines(view, { ' ' .. status }, d.error and 'BatonError' or 'BatonTool')
  end
  if d.output and d.output ~= '' and not view.r.streamed[id .. ':tool_output'] then
    M.lines(view, prefixed(M.prefix.tool_output, vim.trim(d.output)))
  end
  if d.text and d.text ~= '' and d.itemType == 'subagent' then
    M.lines(view, prefixed('  ', d.text))
  end
end
item_renderers.mcp_tool_call = item_renderers.tool_call
item_renderers.subagent = item_renderers.tool_call

function item_renderers.web_search(view, d)
  M.lines(view, { '⌕ ' .. (d.text or 'web search') })
end

function item_renderers.plan(view, d)
  M.lines(view, vim.list_extend({ 'proposed plan:' }, prefixed(M.prefix.plan, d.text or '')))
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
  local reason = d.reason == 'takenOver' and 'handed over' or (d.reason or 'exited')
  M.lines(view, { marker('session ' .. reason .. (d.message and (': ' .. d.message) or '')) }, 'BatonMarker')
end

event_renderers['content.delta'] = function(view, d, ev)
  local stream = d.stream or 'assistant'
  local key = (ev.itemId or '') .. ':' .. stream
  local header = nil
  if not view.r.streamed[key] then
    view.r.streamed[key] = true
    header = stream_headers[stream]
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
  elseif (d.itemType == 'mcp_tool_call' or d.itemType == 'tool_call' or d.itemType == 'subagent') and ev.itemId then
    if not view.r.tools[ev.itemId] then
      view.r.tools[ev.itemId] = true
      M.lines(view, { M.tool_label(d) }, 'BatonTool')
    end
  end
end

event_renderers['item.completed'] = function(view, d, ev)
  local id = ev.itemId or ''
  if view.r.done[id] and id ~= '' then
    return
  end
  view.r.done[id] = true
  -- A finished item's progress line has said all it had to say.
  M.remove_block(view, 'progress:' .. id)
  -- Streamed items are already on screen; their completion only closes the stream.
  if d.itemType == 'assistant_message' and view.r.streamed[id .. ':assistant'] then
    view.r.open = nil
    return
  elseif
    d.itemType == 'reasoning'
    and (view.r.streamed[id .. ':reasoning'] or view.r.streamed[id .. ':reasoning_summary'])
  then
    view.r.open = nil
    return
  elseif d.itemType == 'plan' and view.r.streamed[id .. ':plan'] then
    view.r.open = nil
    return
  elseif d.itemType == 'compaction' then
    return
  end
  local fn = item_renderers[d.itemType] or item_renderers.other
  fn(view, d, ev)
  if d.error and d.error ~= '' then
    M.lines(view, { '  ! ' .. d.error }, 'BatonError')
  end
end

local plan_marks = { completed = '[x]', inProgress = '[>]', pending = '[ ]' }

--- The lines of a plan checklist.
function M.plan_lines(d)
  local steps = d.steps or {}
  local done = 0
  for _, st in ipairs(steps) do
    if st.status == 'completed' then
      done = done + 1
    end
  end
  local lines = { ('plan (%d/%d done):'):format(done, #steps) }
  if d.explanation and d.explanation ~= '' then
    vim.list_extend(lines, prefixed('  ', d.explanation))
  end
  for _, st in ipairs(steps) do
    local text = (st.text or ''):gsub('\n', ' ')
    table.insert(lines, '  ' .. (plan_marks[st.status] or '[ ]') .. ' ' .. text)
  end
  return lines
end

event_renderers['turn.plan'] = function(view, d, ev)
  M.block(view, 'plan:' .. (ev.turnId or ''), M.plan_lines(d), function(l)
    if l:match('^  %[x%]') then
      return 'BatonOk'
    elseif l:match('^  %[>%]') then
      return 'BatonPlanActive'
    elseif l:match('^plan') then
      return 'BatonMarker'
    end
  end)
end

--- The header and folded body of a turn's aggregated diff.
function M.diff_lines(diff)
  local files, added, removed = 0, 0, 0
  local body = {}
  for _, l in ipairs(vim.split(diff or '', '\n', { plain = true })) do
    if l:match('^diff %-%-git ') then
      files = files + 1
    elseif l:match('^%+') and not l:match('^%+%+%+ ') then
      added = added + 1
    elseif l:match('^%-') and not l:match('^%-%-%- ') then
      removed = removed + 1
    end
    table.insert(body, M.diff_prefix .. l)
  end
  while #body > 0 and body[#body] == M.diff_prefix do
    table.remove(body)
  end
  if files == 0 then
    for _, l in ipairs(body) do
      if l:match('^' .. M.diff_prefix .. '%+%+%+ ') then
        files = files + 1
      end
    end
  end
  local head = ('diff: %d file%s changed, +%d -%d'):format(files, files == 1 and '' or 's', added, removed)
  return vim.list_extend({ head }, body)
end

local diff_prefix_len = #M.diff_prefix

event_renderers['turn.diff'] = function(view, d, ev)
  M.block(view, 'diff:' .. (ev.turnId or ''), M.diff_lines(d.unifiedDiff), function(l)
    local c = l:sub(diff_prefix_len + 1, diff_prefix_len + 1)
    local three = l:sub(diff_prefix_len + 1, diff_prefix_len + 3)
    if l:match('^diff:') then
      return 'BatonFileChange'
    elseif three == '+++' or three == '---' then
      return nil
    elseif c == '+' then
      return 'DiffAdd'
    elseif c == '-' then
      return 'DiffDelete'
    elseif c == '@' then
      return 'DiffChange'
    end
  end)
end

event_renderers['item.progress'] = function(view, d, ev)
  local key = 'progress:' .. (ev.itemId or ev.turnId or '')
  M.block(view, key, { '  … ' .. ((d.message or ''):gsub('\n', ' ')) }, 'BatonProgress')
end

--- `42% of 300 min, resets 14:05` for one rate-limit window.
function M.rate_limit_text(l, now)
  local parts = { l.name or '?' }
  if l.usedPercent then
    table.insert(parts, ('%d%%'):format(math.floor(l.usedPercent + 0.5)))
  end
  local s = table.concat(parts, ' ')
  if l.windowMinutes then
    s = s .. (l.usedPercent and ' of ' or ' ') .. l.windowMinutes .. ' min'
  end
  if l.resetsAt then
    now = now or os.time()
    local fmt = (l.resetsAt - now) < 20 * 3600 and '%H:%M' or '%a %H:%M'
    s = s .. ', resets ' .. os.date(fmt, l.resetsAt)
  end
  return s
end

--- `rate limit: primary 42% of 300 min, resets 14:05; secondary ...`.
function M.rate_limit_line(d, now)
  local parts = {}
  for _, l in ipairs(d.limits or {}) do
    table.insert(parts, M.rate_limit_text(l, now))
  end
  local line = 'rate limit: ' .. (#parts > 0 and table.concat(parts, '; ') or '?')
  if d.status and d.status ~= 'allowed' then
    line = line .. ' (' .. d.status .. ')'
  end
  return line
end

event_renderers['rate_limit.updated'] = function(view, d, ev)
  -- Relative to the event's time, so a replay renders what the live stream did.
  local line = M.rate_limit_line(d, (ev.at or 0) > 0 and math.floor(ev.at / 1000) or nil)
  -- Providers repeat their limits after every request: one line per turn, updated in place, and
  -- none at all when nothing changed since the last one shown.
  if line == view.r.rate_limit and not view.r.blocks['rate:' .. (ev.turnId or '')] then
    return
  end
  view.r.rate_limit = line
  M.block(view, 'rate:' .. (ev.turnId or ''), { line }, d.status == 'rejected' and 'BatonError' or 'BatonProgress')
end

event_renderers['model.rerouted'] = function(view, d)
  local line = ('⚠ model rerouted: %s → %s'):format(d.fromModel or '?', d.toModel or '?')
  if d.reason and d.reason ~= '' then
    line = line .. ' (' .. d.reason .. ')'
  end
  M.lines(view, { line }, 'BatonWarning')
end

event_renderers['input.requested'] = function(view, d)
  view.r.inputs[d.requestId or ''] = d.questions or {}
  local lines = {}
  for _, q in ipairs(d.questions or {}) do
    local line = '? ' .. (q.header and q.header ~= '' and (q.header .. ': ') or '') .. (q.question or '')
    local labels = vim.tbl_map(function(o)
      return o.label
    end, q.options or {})
    if #labels > 0 then
      line = line .. ' [' .. table.concat(labels, ' / ') .. ']'
    end
    table.insert(lines, line)
  end
  if #lines == 0 then
    lines = { '? input requested' }
  end
  M.lines(view, lines, 'BatonApproval')
end

--- The `→ answer` line of resolved input; secret answers never appear.
function M.input_answer(d, questions)
  if d.cancelled then
    return '  → cancelled' .. (d.by and (' (' .. d.by .. ')') or '')
  end
  local answers = d.answers or {}
  local order, secret, label = {}, {}, {}
  for _, q in ipairs(questions or {}) do
    table.insert(order, q.id)
    secret[q.id] = q.secret
    label[q.id] = (q.header and q.header ~= '') and q.header or q.question
  end
  for id in pairs(answers) do
    if not vim.tbl_contains(order, id) then
      table.insert(order, id)
    end
  end
  table.sort(order, function(a, b)
    local ia, ib = #order + 1, #order + 1
    for i, q in ipairs(questions or {}) do
      if q.id == a then
        ia = i
      end
      if q.id == b then
        ib = i
      end
    end
    if ia ~= ib then
      return ia < ib
    end
    return a < b
  end)
  local parts = {}
  for _, id in ipairs(order) do
    local a = answers[id]
    if a then
      local text = secret[id] and '•••' or table.concat(a, ', ')
      if #order > 1 then
        text = (label[id] or id) .. ': ' .. text
      end
      table.insert(parts, text)
    end
  end
  return '  → ' .. (#parts > 0 and table.concat(parts, '; ') or '(no answer)')
end

event_renderers['input.resolved'] = function(view, d)
  local line = M.input_answer(d, view.r.inputs[d.requestId or ''])
  M.lines(view, { (line:gsub('\n', ' ')) }, 'BatonApproval')
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
  r.tools = r.tools or {}
  r.inputs = r.inputs or {}
  r.blocks = r.blocks or {}
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
