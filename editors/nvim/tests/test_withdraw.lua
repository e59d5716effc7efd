-- A request baton withdraws: the approval prompt (a stubbed asynchronous picker that opens a
-- floating window and never answers) closes when the turn is interrupted, the handler returns,
-- and nothing runs.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('withdraw', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work, approval_policy = 'untrusted', sandbox = 'workspace-write' })
  local picker
  vim.ui.select = function(_, opts, on_choice)
    local buf = vim.api.nvim_create_buf(false, true)
    picker = vim.api.nvim_open_win(buf, false, { relative = 'editor', row = 1, col = 1, width = 20, height = 3 })
    -- An asynchronous picker calls back when its window closes without a choice.
    vim.api.nvim_create_autocmd('WinClosed', {
      pattern = tostring(picker),
      once = true,
      callback = function()
        vim.schedule(function()
          on_choice(nil, nil)
        end)
      end,
    })
    H.asked = opts.kind
  end
  H.call('thread/start', function(cb)
    baton.start({}, cb)
  end)
  vim.cmd('BatonSend RUN_CMD: touch withdrawn.txt')
  H.wait(30000, function()
    return picker ~= nil and vim.api.nvim_win_is_valid(picker)
  end, 'the approval prompt')
  H.eq('baton.approval', H.asked, 'the approval prompt kind')
  vim.cmd('BatonInterrupt')
  H.eq('interrupted', H.wait_turns(1).data.state, 'the turn')
  H.wait(10000, function()
    return not vim.api.nvim_win_is_valid(picker)
  end, 'the prompt closed')
  local resolved = vim.tbl_filter(function(ev)
    return ev.type == 'approval.resolved'
  end, H.events)
  H.eq(1, #resolved, 'one approval.resolved')
  H.eq('interrupt', resolved[1].data.by, 'withdrawn by the interrupt')
  H.eq(nil, next(require('baton.approval').pending), 'nothing pending')
  H.ok(vim.uv.fs_stat(env.work .. '/withdrawn.txt') == nil, 'nothing ran')
end)
