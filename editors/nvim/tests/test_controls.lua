-- The other commands against the real sidecar, through the umbrella :Baton command: compact,
-- interrupt a slow turn, stop the session.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('controls', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work })
  vim.cmd('Baton new codex')
  H.wait(60000, function()
    return baton.current() ~= nil and baton.current().status == 'idle'
  end, 'the thread from :Baton new')
  vim.cmd('Baton send remember BRAVO')
  H.wait_turns(1)

  vim.cmd('Baton compact')
  H.wait(60000, function()
    return H.count('compaction.completed') == 1
  end, 'compaction.completed')
  H.ok(H.has('── compacted (manual'), 'the compaction marker')
  H.ok(H.has('┆ MOCK SUMMARY'), 'the summary, folded like reasoning')
  H.wait_turns(2)

  local deltas = H.count('content.delta')
  vim.cmd('Baton send SLOW please')
  H.wait(30000, function()
    return H.count('content.delta') >= deltas + 3
  end, 'the slow turn to stream')
  H.eq('codex · mock-model · running' .. H.ctx_suffix(), baton.statusline(), 'statusline while running')
  vim.cmd('Baton interrupt')
  H.eq('interrupted', H.wait_turns(3).data.state, 'the interrupted turn')
  H.wait(5000, function()
    return H.has('! turn interrupted')
  end, 'the interrupt marker')

  vim.cmd('Baton stop')
  H.wait(30000, function()
    return baton.current().status == 'stopped'
  end, 'the stopped status')
  H.ok(H.has('── session stopped ──'), 'the stop marker')
  H.eq('codex · mock-model · stopped' .. H.ctx_suffix(), baton.statusline(), 'statusline after stop')
end)
