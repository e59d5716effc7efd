-- Provider switching: a codex thread moves to claude with :BatonSwitch; the chat buffer shows the
-- handoff marker, the statusline follows, and the next prompt is answered by claude.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('switch', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work })
  H.call('thread/start', function(cb)
    baton.start({ provider = 'codex' }, cb)
  end)
  vim.cmd('BatonSend remember the word ALPHA')
  H.eq('completed', H.wait_turns(1).data.state, 'the codex turn')

  vim.cmd('BatonSwitch claude')
  H.wait(120000, function()
    return H.count('handoff.completed') == 1
  end, 'handoff.completed')
  H.wait(5000, function()
    return H.has('── handoff codex → claude (')
  end, 'the handoff marker in the chat buffer')
  H.ok(H.has('── handing off codex → claude ('), 'the handoff start marker')
  H.wait(5000, function()
    return vim.startswith(baton.statusline(), 'claude')
  end, 'the statusline to show claude')

  vim.cmd('BatonSend hello claude')
  -- The handoff's compaction ran as a turn of its own on codex: wait for claude's turn.
  H.wait(120000, function()
    return H.count('turn.completed', function(ev)
      return ev.provider == 'claude'
    end) == 1
  end, 'the claude turn')
  local claude_turn = vim.tbl_filter(function(ev)
    return ev.type == 'item.completed' and ev.provider == 'claude' and ev.data.itemType == 'assistant_message'
  end, H.events)
  H.ok(#claude_turn >= 1, 'an assistant message from claude')
  H.ok(H.has(claude_turn[#claude_turn].data.text:sub(1, 40)), 'claude answer in the buffer')
  H.ok(H.has('session started: claude'), 'the claude session marker')
  H.ok(baton.statusline():find('claude', 1, true) ~= nil, 'statusline shows claude')
end)
