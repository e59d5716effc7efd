-- A thread on codex: the prompt goes out, the streamed answer lands in the chat buffer in place,
-- and the statusline shows provider, model and state.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('chat', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work })
  local thread = H.call('thread/start', function(cb)
    baton.start({ provider = 'codex' }, cb)
  end)
  H.eq('codex', thread.provider, 'provider')
  H.eq(vim.api.nvim_get_current_buf(), baton.current().buf, 'chat buffer shown')

  vim.cmd('BatonSend hello from nvim')
  local done = H.wait_turns(1)
  H.eq('completed', done.data.state, 'turn state')
  H.wait(10000, function()
    return baton.current().status == 'idle'
  end, 'idle status')

  local lines = vim.api.nvim_buf_get_lines(baton.current().buf, 0, -1, false)
  H.ok(vim.tbl_contains(lines, '> hello from nvim'), 'the user message line')
  -- Several deltas, one line: the answer was appended in place.
  H.ok(H.count('content.delta') > 1, 'the answer streamed in several deltas')
  H.ok(vim.tbl_contains(lines, 'mock reply to: hello from nvim'), 'the streamed answer on one line')
  H.ok(H.has('── session started: codex · mock-model ──'), 'the session marker')
  H.eq('codex · mock-model · idle' .. H.ctx_suffix(), baton.statusline(), 'statusline')

  -- A range from a file buffer goes along with its name and line numbers.
  local file = env.work .. '/notes.txt'
  vim.fn.writefile({ 'first line', 'second line', 'third line' }, file)
  vim.cmd.edit(file)
  vim.cmd('2,3BatonSend explain this')
  H.eq('completed', H.wait_turns(2).data.state, 'the turn with context')
  H.ok(H.has('/work/notes.txt (lines 2-3):'), 'the context header in the prompt')
  H.ok(H.has('> second line\n> third line'), 'the selected lines in the prompt')
  H.ok(H.has('mock reply to: explain this'), 'the answer')

  -- baton answered `initialize` from its (empty) probe cache; the versions arrive with the
  -- background probe's `provider/changed`.
  H.ok(vim.wait(15000, function()
    local server = require('baton.client').server or {}
    for _, p in ipairs(server.providers or {}) do
      if p.id == 'codex' and p.version then
        return true
      end
    end
    return false
  end, 50), 'provider/changed brought the versions')
  vim.cmd('checkhealth baton')
  local health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
  H.ok(health:find('version 0.', 1, true), 'checkhealth shows the version: ' .. health)
  H.ok(health:find('codex 0.169.0', 1, true), 'checkhealth shows codex: ' .. health)
end)
