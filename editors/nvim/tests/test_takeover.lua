-- Two windows on one database: `baton exec` (another baton process, the same BATON_DB) drives the
-- thread; the plugin's send is refused with -32016, shown as a message naming the other window
-- and offering :BatonTakeover; :BatonTakeover moves the thread here and the next turn runs here.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('takeover', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work })
  vim.cmd('Baton new codex')
  H.wait(60000, function()
    return baton.current() ~= nil and baton.current().status == 'idle'
  end, 'the thread from :Baton new')
  local id = baton.current().id
  vim.cmd('Baton send remember CHERRY')
  H.wait_turns(1)
  vim.cmd('BatonStop')
  H.wait(30000, function()
    return baton.current().status == 'stopped'
  end, 'the stopped status')

  -- The other window: a slow turn on the same thread from another baton process.
  local out, err = '', ''
  local other = vim.system({ assert(vim.env.BATON_BIN), 'exec', '--thread', id, 'SLOW from the other window' }, {
    text = true,
    stdout = function(_, data)
      out = out .. (data or '')
    end,
    stderr = function(_, data)
      err = err .. (data or '')
    end,
  })
  if not vim.wait(60000, function()
    return out:find('slow slow', 1, true) ~= nil
  end, 20) then
    -- What the other window said is what tells a slow start from a refusal.
    error(('timed out after 60000 ms waiting for the other window to stream; its stdout: %s; the end of its stderr: %s'):format(
      out,
      err:sub(-4000)
    ))
  end

  local notes = {}
  local notify = vim.notify
  vim.notify = function(msg, level)
    table.insert(notes, { msg = msg, level = level })
  end
  vim.cmd('BatonSend hello from nvim')
  H.wait(10000, function()
    return #notes > 0
  end, 'the refusal')
  local note = notes[1].msg
  H.ok(note:find('driven by another window', 1, true) ~= nil, 'names the situation: ' .. note)
  -- baton exec speaks to a child baton server of its own, whose editor calls itself baton-cli.
  H.ok(note:find('baton-cli (baton pid ', 1, true) ~= nil, 'names the other window: ' .. note)
  H.ok(note:find(':BatonTakeover', 1, true) ~= nil, 'offers the takeover: ' .. note)
  H.eq(vim.log.levels.WARN, notes[1].level, 'a warning, not an error')

  vim.cmd('BatonTakeover')
  H.wait(10000, function()
    return #notes > 1
  end, 'the takeover')
  H.eq('baton: this window now drives the thread', notes[2].msg, 'the takeover message')
  vim.notify = notify
  -- The other window's turn ended with its session; it exits.
  local done = other:wait(10000)
  H.ok(done.signal == 0, 'baton exec ended by itself')
  H.ok(out:find('another window', 1, true) ~= nil, 'the other window was told: ' .. out)

  local turns = H.count('turn.completed')
  vim.cmd('Baton send which fruit?')
  H.eq('completed', H.wait_turns(turns + 1).data.state, 'the next turn runs here')
end)
