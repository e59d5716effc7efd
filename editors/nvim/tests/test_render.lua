-- Rendering without a sidecar: a recorded-style event stream through the same path live
-- notifications take; checks every marker, in-place streaming, reasoning folds, seq dedupe and
-- replay ordering.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('render', function()
  local baton = require('baton')
  baton.setup({ open = 'current' })
  local threads = require('baton.threads')
  local seq = 0
  local function ev(type_, data, extra)
    seq = seq + 1
    return vim.tbl_extend('force', { threadId = 'T1', seq = seq, provider = 'codex', at = 0, type = type_, data = data }, extra or {})
  end
  local stream = {
    ev('session.started', { resumed = false, providerThreadId = 'p1', model = 'gpt-x' }),
    ev('thread.status', { status = 'running' }),
    ev('item.completed', { itemType = 'user_message', text = 'fix it' }, { itemId = 'u1' }),
    ev('content.delta', { stream = 'reasoning', delta = 'thinking about' }, { itemId = 'r1' }),
    ev('content.delta', { stream = 'reasoning', delta = ' it\nstill thinking' }, { itemId = 'r1' }),
    ev('item.completed', { itemType = 'reasoning', text = 'thinking about it\nstill thinking' }, { itemId = 'r1' }),
    ev('item.started', { itemType = 'command', command = 'make test' }, { itemId = 'c1' }),
    ev('content.delta', { stream = 'command_output', delta = 'ok 1\nok 2' }, { itemId = 'c1' }),
    ev('item.completed', { itemType = 'command', command = 'make test', exitCode = 2, output = 'ok 1\nok 2' }, { itemId = 'c1' }),
    ev('item.completed', { itemType = 'file_change', changes = { { path = 'src/a.rs', kind = 'update' }, { path = 'b.txt', kind = 'add' } } }, { itemId = 'f1' }),
    ev('content.delta', { stream = 'assistant', delta = 'Done' }, { itemId = 'm1' }),
    ev('content.delta', { stream = 'assistant', delta = ', mostly.\nSee' }, { itemId = 'm1' }),
    ev('content.delta', { stream = 'assistant', delta = ' above.' }, { itemId = 'm1' }),
    ev('item.completed', { itemType = 'assistant_message', text = 'Done, mostly.\nSee above.' }, { itemId = 'm1' }),
    ev('item.completed', { itemType = 'assistant_message', text = 'not streamed' }, { itemId = 'm2' }),
    ev('runtime.warning', { message = 'careful' }),
    ev('runtime.error', { message = 'boom', class = 'provider' }),
    ev('turn.completed', { state = 'failed', error = 'model overloaded' }),
    ev('handoff.failed', { from = 'codex', to = 'claude', error = 'no claude' }),
    ev('session.exited', { reason = 'crashed', recoverable = true }),
  }
  -- The first half arrives live; the view is then reopened: a replay of everything must add only
  -- what is new, and live events during the replay wait for it.
  for i = 1, 10 do
    threads.on_event(stream[i])
  end
  local view = threads.view('T1')
  threads.show(view)
  threads.begin_loading(view)
  threads.on_event(stream[#stream]) -- live, during the replay
  local replay = {}
  for i = 1, #stream - 1 do
    table.insert(replay, stream[i])
  end
  threads.replay(view, replay)

  local want = {
    '── session started: codex · gpt-x ──',
    '',
    '> fix it',
    'reasoning:',
    '┆ thinking about it',
    '┆ still thinking',
    '$ make test',
    '│ ok 1',
    '│ ok 2',
    '  [exit 2]',
    '✎ update src/a.rs',
    '✎ add b.txt',
    'Done, mostly.',
    'See above.',
    'not streamed',
    '⚠ careful',
    '! error (provider): boom',
    '! turn failed: model overloaded',
    '! handoff codex → claude failed: no claude',
    '── session crashed ──',
  }
  H.eq(want, vim.api.nvim_buf_get_lines(view.buf, 0, -1, false), 'chat buffer')
  H.eq(#stream, view.seq, 'last seq')
  H.eq('codex · gpt-x · stopped', baton.statusline(), 'statusline')

  -- Reasoning is folded (closed) in the window; other lines are not.
  H.eq(1, vim.fn.foldlevel(5), 'reasoning fold level')
  H.ok(vim.fn.foldclosed(5) == 5 and vim.fn.foldclosedend(5) == 6, 'reasoning folded closed')
  H.eq(-1, vim.fn.foldclosed(13), 'the answer is not folded')
  H.eq(false, vim.bo[view.buf].modifiable, 'chat buffer is read-only')
  H.ok(vim.api.nvim_buf_get_name(view.buf):find('baton://codex/T1', 1, true), 'buffer name')

  -- Approval prompt text and the answer path through a coroutine (as the RPC layer runs it).
  local approval = require('baton.approval')
  H.stub_select(function(items)
    return 2
  end)
  local result
  local co = coroutine.create(function()
    result = approval.ask({ threadId = 'T1', kind = 'command', title = 'Run `ls`', command = 'ls', cwd = '/w' })
  end)
  assert(coroutine.resume(co))
  H.wait(2000, function()
    return result ~= nil
  end, 'the approval answer')
  H.eq({ decision = 'acceptForSession' }, result, 'approval result')
  H.ok(H.selects[1].opts.prompt:find('$ ls', 1, true), 'prompt shows the command')
  -- Dismissing the prompt declines.
  H.stub_select(function()
    return nil
  end)
  result = nil
  co = coroutine.create(function()
    result = approval.ask({ threadId = 'T1', kind = 'command', title = 'x' })
  end)
  assert(coroutine.resume(co))
  H.wait(2000, function()
    return result ~= nil
  end, 'the dismissed answer')
  H.eq({ decision = 'decline' }, result, 'dismissed approval')

  -- A missing binary is an error through the callback, not an exception.
  require('baton.config').options.cmd = { H.tmp .. '/no-such-baton' }
  local err = H.call('start without baton', function(cb)
    baton.start({}, function(e)
      cb(nil, e)
    end)
  end, 5000)
  H.ok(err and err.message:find('cannot start baton', 1, true), 'the start error: ' .. vim.inspect(err))
end)
