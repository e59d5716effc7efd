-- Shared by the headless tests: the mock model server, a CODEX_HOME pointing at it, the plugin set
-- up against the real baton binary, bounded waits, and a runner that reports and exits via cquit.
local H = {}

H.tmp = assert(vim.env.BATON_TEST_TMP, 'BATON_TEST_TMP is not set (run editors/nvim/tests/run)')
H.events = {}

local function log(msg)
  io.stderr:write(msg .. '\n')
end
H.log = log

--- Waits for `cond` at most `ms` milliseconds; fails the test with `what` otherwise.
function H.wait(ms, cond, what)
  if not vim.wait(ms, cond, 20) then
    error('timed out after ' .. ms .. ' ms waiting for ' .. what, 2)
  end
end

function H.eq(want, got, what)
  if not vim.deep_equal(want, got) then
    error(('%s: want %s, got %s'):format(what or 'value', vim.inspect(want), vim.inspect(got)), 2)
  end
end

function H.ok(cond, what)
  if not cond then
    error('expected: ' .. what, 2)
  end
end

local mock = nil

--- The codex config of tests/common/mod.rs (`codex_config`), aimed at the mock.
function H.codex_config(base_url)
  return table.concat({
    'model = "mock-model"',
    'model_provider = "mock"',
    'approval_policy = "never"',
    'sandbox_mode = "read-only"',
    'check_for_update_on_startup = false',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[model_providers.mock]',
    'name = "mock"',
    'base_url = "' .. base_url .. '/v1"',
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
  }, '\n')
end

--- Starts the mock model server and points codex and claude at it; returns the test's world.
function H.env()
  local out = ''
  mock = vim.system({ assert(vim.env.MOCK_MODEL_BIN) }, {
    stdin = true,
    stdout = function(_, data)
      out = out .. (data or '')
    end,
  })
  H.wait(10000, function()
    return out:find('}', 1, true) ~= nil
  end, 'the mock model server')
  local port = assert(vim.json.decode(vim.split(out, '\n')[1]).port)
  local base = 'http://127.0.0.1:' .. port
  local codex_home = assert(vim.env.CODEX_HOME)
  vim.fn.mkdir(codex_home, 'p')
  vim.fn.writefile(vim.split(H.codex_config(base), '\n'), codex_home .. '/config.toml')
  vim.env.ANTHROPIC_BASE_URL = base
  vim.env.ANTHROPIC_API_KEY = 'dummy'
  vim.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1'
  vim.env.DISABLE_TELEMETRY = '1'
  vim.env.DISABLE_AUTOUPDATER = '1'
  vim.env.DISABLE_ERROR_REPORTING = '1'
  vim.env.CLAUDE_CODE_MAX_RETRIES = '1'
  local work = H.tmp .. '/work'
  vim.fn.mkdir(work, 'p')
  return { base = base, port = port, work = work }
end

--- The plugin, set up against the real baton (its log goes to the test's temp dir).
function H.setup(opts)
  local baton = require('baton')
  baton.setup(vim.tbl_extend('force', {
    cmd = { assert(vim.env.BATON_BIN), '--log-file', H.tmp .. '/baton.log', '--log-level', 'debug' },
    open = 'current',
  }, opts or {}))
  -- Record every event the plugin receives, so tests can wait for protocol facts too.
  local threads = require('baton.threads')
  local on_event = threads.on_event
  threads.on_event = function(ev)
    table.insert(H.events, ev)
    on_event(ev)
  end
  return baton
end

--- The number of recorded events of a type (optionally matching `pred`).
function H.count(type_, pred)
  local n = 0
  for _, ev in ipairs(H.events) do
    if ev.type == type_ and (not pred or pred(ev)) then
      n = n + 1
    end
  end
  return n
end

--- The statusline's ` · N% ctx` suffix the last `usage.updated` of the current thread implies ("" when
--- the provider reported no context fill).
function H.ctx_suffix()
  local view = require('baton').current()
  local u = view and view.usage
  if not (u and u.contextTokens and u.contextWindow and u.contextWindow > 0) then
    return ''
  end
  return (' · %d%% ctx'):format(math.floor(u.contextTokens * 100 / u.contextWindow + 0.5))
end

--- Waits for the n-th `turn.completed` and returns it.
function H.wait_turns(n, ms)
  H.wait(ms or 90000, function()
    return H.count('turn.completed') >= n
  end, n .. ' completed turn(s)')
  local seen = 0
  for _, ev in ipairs(H.events) do
    if ev.type == 'turn.completed' then
      seen = seen + 1
      if seen == n then
        return ev
      end
    end
  end
end

--- Runs an async plugin function to completion: calls `fn(cb)` and waits for `cb(err, result)`.
function H.call(what, fn, ms)
  local done, err, result = false, nil, nil
  fn(function(e, r)
    done, err, result = true, e, r
  end)
  H.wait(ms or 90000, function()
    return done
  end, what)
  if err then
    error(what .. ' failed: ' .. vim.inspect(err), 2)
  end
  return result
end

--- The current chat buffer's text.
function H.text()
  local view = require('baton').current()
  return view and table.concat(vim.api.nvim_buf_get_lines(view.buf, 0, -1, false), '\n') or ''
end

function H.has(text)
  return H.text():find(text, 1, true) ~= nil
end

--- Replaces vim.ui.select: `pick(items, opts)` returns the index to choose (nil dismisses).
function H.stub_select(pick)
  H.selects = {}
  vim.ui.select = function(items, opts, on_choice)
    table.insert(H.selects, { items = items, opts = opts })
    local i = pick(items, opts)
    vim.schedule(function()
      on_choice(i and items[i] or nil, i)
    end)
  end
end

local function dump()
  log('--- chat buffer')
  log(H.text())
  log('--- events')
  for _, ev in ipairs(H.events) do
    log(('%s %s %s'):format(ev.seq, ev.type, vim.json.encode(ev.data or {})))
  end
  local f = io.open(H.tmp .. '/baton.log', 'r')
  if f then
    local lines = vim.split(f:read('*a'), '\n')
    f:close()
    log('--- baton.log (last 60 lines)')
    for i = math.max(1, #lines - 60), #lines do
      log(lines[i])
    end
  end
end

--- Runs the test body; always stops baton and the mock, then exits nvim with 0 or 1.
function H.run(name, body)
  local ok, err = xpcall(body, debug.traceback)
  if not ok then
    log('FAIL ' .. name .. ': ' .. tostring(err))
    pcall(dump)
  end
  pcall(function()
    require('baton.client').stop()
  end)
  if mock then
    pcall(function()
      mock:write(nil)
      mock:wait(5000)
    end)
  end
  if ok then
    log('ok ' .. name)
    if vim.env.BATON_TEST_VERBOSE then
      pcall(dump)
    end
  end
  vim.cmd('cquit ' .. (ok and 0 or 1))
end

return H
