-- Reopening: after baton restarts and the views are gone, :BatonThreads lists the thread (picked
-- through a stubbed vim.ui.select), its history renders from thread/read, and it continues.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('threads', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work })
  local thread = H.call('thread/start', function(cb)
    baton.start({ provider = 'codex', title = 'history test' }, cb)
  end)
  vim.cmd('BatonSend remember the word ALPHA')
  H.eq('completed', H.wait_turns(1).data.state, 'the first turn')
  local before = H.text()

  -- A fresh baton (same database) and no views: only the store remembers the thread.
  baton.shutdown()
  require('baton.threads').reset()
  H.eq('', baton.statusline(), 'statusline without a thread')
  H.events = {}

  H.stub_select(function(items, opts)
    H.eq('baton.thread', opts.kind, 'select kind')
    for i, t in ipairs(items) do
      if t.id == thread.id then
        return i
      end
    end
  end)
  vim.cmd('BatonThreads')
  H.wait(30000, function()
    return baton.current() ~= nil and H.has('mock reply to: remember the word ALPHA')
  end, 'the reopened history')
  H.eq(1, #H.selects, 'one picker')
  H.ok(H.selects[1].opts.format_item(H.selects[1].items[1]):find('history test', 1, true), 'the picker shows the title')
  H.eq(thread.id, baton.current().id, 'the reopened thread is current')
  H.eq(vim.api.nvim_get_current_buf(), baton.current().buf, 'its buffer is shown')
  -- The replay renders what streaming rendered, plus the shutdown marker of the first baton.
  H.ok(vim.startswith(H.text(), before), 'replayed history equals the streamed one')
  H.ok(H.has('── session shutdown ──'), 'the shutdown marker')

  vim.cmd('BatonSend and again')
  H.eq('completed', H.wait_turns(1).data.state, 'the resumed turn')
  H.ok(H.has('session resumed: codex'), 'the resumed marker')
  H.ok(H.has('mock reply to: and again'), 'the new answer')
  H.eq(1, #vim.tbl_filter(function(l)
    return l == 'mock reply to: remember the word ALPHA'
  end, vim.api.nvim_buf_get_lines(baton.current().buf, 0, -1, false)), 'history rendered once')
end)
