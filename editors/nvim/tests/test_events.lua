-- The newer events without a sidecar: plans (a checklist replaced in place, never duplicated),
-- the turn's diff (folded, replaced in place), item progress, rate limits, model reroutes,
-- reasoning summaries, MCP tool calls, input requested/resolved (secret answers hidden), the
-- statusline's context fill; then the input/request handler through a stubbed vim.ui.select /
-- vim.ui.input, and :BatonPlan sending turn/start with mode "plan".
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('events', function()
  local baton = require('baton')
  baton.setup({ open = 'current' })
  local threads = require('baton.threads')
  local seq = 0
  local function ev(type_, data, extra)
    seq = seq + 1
    return vim.tbl_extend('force', { threadId = 'T2', seq = seq, provider = 'codex', at = os.time() * 1000, turnId = 'turn1', type = type_, data = data }, extra or {})
  end
  local resets = os.time() + 3600
  local diff1 = 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-old\n+new\n'
  local diff2 = diff1 .. 'diff --git a/b.txt b/b.txt\n--- /dev/null\n+++ b/b.txt\n@@ -0,0 +1 @@\n+hello\n'
  local stream = {
    ev('session.started', { resumed = false, providerThreadId = 'p1', model = 'gpt-x' }),
    ev('thread.status', { status = 'running' }),
    ev('item.completed', { itemType = 'user_message', text = 'plan it' }, { itemId = 'u1' }),
    ev('content.delta', { stream = 'reasoning_summary', delta = 'summary of\nthoughts' }, { itemId = 'r1' }),
    ev('item.completed', { itemType = 'reasoning', text = 'summary of\nthoughts' }, { itemId = 'r1' }),
    ev('turn.plan', { steps = { { text = 'read', status = 'inProgress' }, { text = 'write', status = 'pending' } } }),
    ev('turn.diff', { unifiedDiff = diff1 }),
    ev('item.started', { itemType = 'mcp_tool_call', server = 'docs', tool = 'search' }, { itemId = 't1' }),
    ev('item.progress', { message = 'searching 1/3' }, { itemId = 't1' }),
    ev('item.progress', { message = 'searching 2/3' }, { itemId = 't1' }),
    ev('item.completed', { itemType = 'mcp_tool_call', server = 'docs', tool = 'search', status = 'failed', error = 'no index' }, { itemId = 't1' }),
    ev('turn.plan', { explanation = 'two steps', steps = { { text = 'read', status = 'completed' }, { text = 'write', status = 'inProgress' }, { text = 'test', status = 'pending' } } }),
    ev('turn.diff', { unifiedDiff = diff2 }),
    ev('rate_limit.updated', { limits = { { name = 'primary', usedPercent = 41.6, windowMinutes = 300, resetsAt = resets } } }),
    ev('rate_limit.updated', { limits = { { name = 'primary', usedPercent = 41.6, windowMinutes = 300, resetsAt = resets } } }),
    ev('model.rerouted', { fromModel = 'gpt-x', toModel = 'gpt-y', reason = 'capacity' }),
    ev('input.requested', { requestId = 'q1', questions = {
      { id = 'color', question = 'Which color?', options = { { label = 'red' }, { label = 'blue' } }, multiSelect = false, allowOther = false, secret = false },
      { id = 'token', question = 'API token?', header = 'Token', options = {}, multiSelect = false, allowOther = true, secret = true },
    } }),
    ev('input.resolved', { requestId = 'q1', answers = { color = { 'red' }, token = { 'hunter2' } }, cancelled = false }),
    ev('input.requested', { requestId = 'q2', questions = { { id = 'x', question = 'Go on?', options = {}, multiSelect = false, allowOther = true, secret = false } } }),
    ev('input.resolved', { requestId = 'q2', answers = {}, cancelled = true, by = 'timeout' }),
    ev('usage.updated', { inputTokens = 10, outputTokens = 5, totalTokens = 15, contextTokens = 42000, contextWindow = 100000 }),
    ev('thread.status', { status = 'idle' }),
  }
  local progress_seen
  for _, e in ipairs(stream) do
    threads.on_event(e)
    if e.type == 'item.progress' and e.data.message == 'searching 2/3' then
      local view = threads.view('T2')
      local lines = vim.api.nvim_buf_get_lines(view.buf, 0, -1, false)
      progress_seen = lines
    end
  end
  -- While the tool runs, its latest progress is one dim line (replaced, not appended).
  H.eq({ '⚙ docs/search', '  … searching 2/3' }, vim.list_slice(progress_seen, #progress_seen - 1, #progress_seen), 'the progress line')
  H.ok(not table.concat(progress_seen, '\n'):find('searching 1/3', 1, true), 'the older progress was replaced')
  local view = threads.view('T2')
  threads.show(view)
  local rate = 'rate limit: primary 42% of 300 min, resets ' .. os.date('%H:%M', resets)
  local want = {
    '── session started: codex · gpt-x ──',
    '',
    '> plan it',
    'reasoning summary:',
    '┆ summary of',
    '┆ thoughts',
    'plan (1/3 done):',
    '  two steps',
    '  [x] read',
    '  [>] write',
    '  [ ] test',
    'diff: 2 files changed, +2 -1',
    '┊ diff --git a/a.txt b/a.txt',
    '┊ --- a/a.txt',
    '┊ +++ b/a.txt',
    '┊ @@ -1 +1 @@',
    '┊ -old',
    '┊ +new',
    '┊ diff --git a/b.txt b/b.txt',
    '┊ --- /dev/null',
    '┊ +++ b/b.txt',
    '┊ @@ -0,0 +1 @@',
    '┊ +hello',
    '⚙ docs/search',
    '  [failed]',
    '  ! no index',
    rate,
    '⚠ model rerouted: gpt-x → gpt-y (capacity)',
    '? Which color? [red / blue]',
    '? Token: API token?',
    '  → Which color?: red; Token: •••',
    '? Go on?',
    '  → cancelled (timeout)',
  }
  H.eq(want, vim.api.nvim_buf_get_lines(view.buf, 0, -1, false), 'chat buffer')
  H.ok(not H.text():find('hunter2', 1, true), 'the secret answer is not shown')
  H.eq('codex · gpt-y · idle · 42% ctx', baton.statusline(), 'statusline with the context fill')

  -- The diff body is folded closed like reasoning; the plan is not folded.
  H.ok(vim.fn.foldclosed(13) == 13 and vim.fn.foldclosedend(13) == 23, 'the diff is folded closed')
  H.eq(-1, vim.fn.foldclosed(9), 'the plan is not folded')
  H.ok(vim.fn.foldclosed(5) == 5, 'the reasoning summary is folded')

  -- A replay of the same events renders the same buffer (blocks replaced, not appended).
  local again = threads.view('T3')
  for _, e in ipairs(stream) do
    threads.on_event(vim.tbl_extend('force', e, { threadId = 'T3' }))
  end
  H.eq(want, vim.api.nvim_buf_get_lines(again.buf, 0, -1, false), 'the same events render the same')

  -- A newer plan after more output still replaces the one block; a new turn gets its own plan.
  threads.on_event(ev('turn.plan', { steps = { { text = 'read', status = 'completed' }, { text = 'write', status = 'completed' } } }))
  threads.on_event(ev('turn.plan', { steps = { { text = 'next', status = 'pending' } } }, { turnId = 'turn2' }))
  local lines = vim.api.nvim_buf_get_lines(view.buf, 0, -1, false)
  H.eq({ 'plan (2/2 done):', '  [x] read', '  [x] write', 'diff: 2 files changed, +2 -1' }, vim.list_slice(lines, 7, 10), 'the plan replaced in place')
  H.eq({ 'plan (0/1 done):', '  [ ] next' }, vim.list_slice(lines, #lines - 1, #lines), "the next turn's plan")
  local plans = 0
  for _, l in ipairs(lines) do
    if l:match('^plan %(') then
      plans = plans + 1
    end
  end
  H.eq(2, plans, 'one plan per turn')
  H.eq('┊ +hello', lines[21], 'the diff after the shorter plan')

  -- input/request: one select per question, "Other…" goes on to vim.ui.input; secret questions too.
  local input = require('baton.input')
  local inputs = {}
  local typed = { 'my own', 's3cret' }
  vim.ui.input = function(opts, on_confirm)
    table.insert(inputs, opts)
    local text = table.remove(typed, 1)
    vim.schedule(function()
      on_confirm(text)
    end)
  end
  local picks = { 'blue', input.other, 'a', 'c', input.done }
  H.stub_select(function(items)
    local want_label = table.remove(picks, 1)
    for i, it in ipairs(items) do
      if it.label == want_label then
        return i
      end
    end
  end)
  local params = {
    threadId = 'T2',
    turnId = 'turn2',
    requestId = 'q3',
    questions = {
      { id = 'color', question = 'Which color?', header = 'Color', options = { { label = 'red', description = 'warm' }, { label = 'blue' } }, multiSelect = false, allowOther = false, secret = false },
      { id = 'name', question = 'Name?', options = { { label = 'x' } }, multiSelect = false, allowOther = true, secret = false },
      { id = 'many', question = 'Which ones?', options = { { label = 'a' }, { label = 'b' }, { label = 'c' } }, multiSelect = true, allowOther = false, secret = false },
      { id = 'key', question = 'Key?', options = {}, multiSelect = false, allowOther = true, secret = true },
    },
  }
  local result
  local co = coroutine.create(function()
    result = input.ask(params)
  end)
  assert(coroutine.resume(co))
  H.wait(3000, function()
    return result ~= nil
  end, 'the input answer')
  H.eq({ answers = { color = { 'blue' }, name = { 'my own' }, many = { 'a', 'c' }, key = { 's3cret' } } }, result, 'input result')
  H.eq('{"answers":{"color":["blue"]}}', vim.json.encode({ answers = { color = { 'blue' } } }), 'the reply encodes as an object of lists')
  H.eq('baton.input', H.selects[1].opts.kind, 'select kind')
  H.eq('baton: [Color] Which color?', H.selects[1].opts.prompt, 'the prompt names the question')
  H.eq('red — warm', H.selects[1].opts.format_item(H.selects[1].items[1]), 'options show their description')
  H.eq({ 'x', input.other }, vim.tbl_map(function(it)
    return it.label
  end, H.selects[2].items), 'allowOther adds Other…')
  H.eq(5, #H.selects, 'no select for the secret free-text question')
  H.eq(true, inputs[2].secret, 'the secret question is flagged')

  -- Dismissing a picker cancels the whole request.
  H.stub_select(function()
    return nil
  end)
  result = nil
  co = coroutine.create(function()
    result = input.ask(params)
  end)
  assert(coroutine.resume(co))
  H.wait(3000, function()
    return result ~= nil
  end, 'the cancelled answer')
  H.eq({ cancelled = true }, result, 'dismissed input')

  -- The RPC layer routes input/request to the handler (its coroutine, like approval/request).
  -- :BatonPlan sends turn/start with mode "plan"; :BatonSend does not.
  local client = require('baton.client')
  local sent = {}
  client.request = function(method, p, cb)
    table.insert(sent, { method = method, params = p })
    if cb then
      cb(nil, { turnId = 'x' })
    end
  end
  vim.cmd('BatonPlan Which color?')
  vim.cmd('BatonSend hi')
  vim.cmd('Baton plan again')
  H.eq('turn/start', sent[1].method, 'plan request')
  H.eq('plan', sent[1].params.mode, 'plan mode')
  H.eq('Which color?', sent[1].params.input[1].text, 'plan text')
  H.eq(nil, sent[2].params.mode, 'send has no mode')
  H.eq('plan', sent[3].params.mode, ':Baton plan')
end)
