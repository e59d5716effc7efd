-- Approvals: codex asks before running a command (approvalPolicy "untrusted", sandbox
-- "workspace-write"); the stubbed vim.ui.select answers, and the answer decides whether the
-- command's file appears.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('approval', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work, approval_policy = 'untrusted', sandbox = 'workspace-write' })
  local decision = 'accept'
  H.stub_select(function(items, opts)
    H.eq('baton.approval', opts.kind, 'select kind')
    for i, item in ipairs(items) do
      if item.decision == decision then
        return i
      end
    end
  end)
  H.call('thread/start', function(cb)
    baton.start({}, cb)
  end)

  vim.cmd('BatonSend RUN_CMD: touch accepted.txt')
  H.eq('completed', H.wait_turns(1).data.state, 'first turn')
  H.eq(1, #H.selects, 'one approval prompt')
  local labels = vim.tbl_map(function(c)
    return H.selects[1].opts.format_item(c)
  end, H.selects[1].items)
  H.eq({ 'Accept', 'Accept for session', 'Decline' }, labels, 'the choices')
  H.ok(H.selects[1].opts.prompt:find('accepted.txt', 1, true), 'the prompt names the command')
  H.ok(vim.uv.fs_stat(env.work .. '/accepted.txt') ~= nil, 'accepted.txt exists')
  H.ok(H.has('? approval: '), 'the approval marker')
  H.ok(H.has('  → accept'), 'the decision marker')
  H.ok(H.has('$ ') and H.has('[exit 0]'), 'the command with its exit code')

  decision = 'decline'
  vim.cmd('BatonSend RUN_CMD: touch declined.txt')
  H.eq('completed', H.wait_turns(2).data.state, 'second turn')
  H.eq(2, #H.selects, 'a second approval prompt')
  H.ok(vim.uv.fs_stat(env.work .. '/declined.txt') == nil, 'declined.txt does not exist')
  H.ok(H.has('  → decline'), 'the decline marker')
end)
