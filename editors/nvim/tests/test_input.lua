-- The agent's questions end to end: a plan-mode turn (:BatonPlan) whose prompt makes the mock model
-- ask "Which color?" through codex; baton sends input/request, the stubbed vim.ui.select picks
-- "blue", and the answer reaches the model. Then a dismissed picker cancels.
local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':h') .. '/helpers.lua')

H.run('input', function()
  local env = H.env()
  local baton = H.setup({ cwd = env.work })
  local answer = 'blue'
  H.stub_select(function(items, opts)
    H.eq('baton.input', opts.kind, 'select kind')
    for i, item in ipairs(items) do
      if item.label == answer then
        return i
      end
    end
  end)
  H.call('thread/start', function(cb)
    baton.start({}, cb)
  end)

  vim.cmd('BatonPlan ASK_USER: Which color? | red | blue')
  H.eq('completed', H.wait_turns(1).data.state, 'the plan-mode turn')
  H.eq(1, #H.selects, 'one question asked')
  H.ok(H.selects[1].opts.prompt:find('Which color?', 1, true), 'the prompt is the question')
  local labels = vim.tbl_map(function(it)
    return it.label
  end, H.selects[1].items)
  H.ok(vim.tbl_contains(labels, 'red') and vim.tbl_contains(labels, 'blue'), 'the options: ' .. vim.inspect(labels))
  H.eq(1, H.count('input.resolved', function(ev)
    return not ev.data.cancelled and vim.deep_equal(vim.tbl_values(ev.data.answers), { { 'blue' } })
  end), 'input.resolved carries the answer')
  H.ok(H.text():find('? [^\n]*Which color%? %[red / blue%]'), 'the question in the chat')
  H.ok(H.has('  → blue'), 'the answer in the chat')
  H.ok(H.text():find('user answered: [^\n]*blue'), 'the model got the answer')

  answer = nil
  vim.cmd('BatonPlan ASK_USER: Which size? | S | M')
  H.wait_turns(2)
  H.eq(2, #H.selects, 'the second question asked')
  H.eq(1, H.count('input.resolved', function(ev)
    return ev.data.cancelled
  end), 'the dismissed picker cancels')
  H.ok(H.has('  → cancelled'), 'the cancel in the chat')
end)
