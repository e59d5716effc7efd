--- The plugin's operations, one per protocol request: each is asynchronous and calls
--- `cb(err, result)` on the main loop (by default errors become notifications), so commands never
--- block the editor while an agent starts, compacts or hands off.
local client = require('baton.client')
local config = require('baton.config')
local threads = require('baton.threads')

local M = {}

--- Error -32016: another window (another baton on the same database) drives the thread.
M.THREAD_LEASED = -32016

--- Shows a request's error; a thread another window drives gets a message that names that window
--- and offers `:BatonTakeover`.
function M.notify_error(what, err)
  if type(err) == 'table' and err.code == M.THREAD_LEASED then
    vim.notify(
      'baton ' .. what .. ': ' .. (err.message or 'another window drives this thread')
        .. '\nRun :BatonTakeover to move the thread to this window.',
      vim.log.levels.WARN
    )
    return
  end
  vim.notify('baton ' .. what .. ': ' .. client.errmsg(err), vim.log.levels.ERROR)
end

local function default_cb(what)
  return function(err)
    if err then
      M.notify_error(what, err)
    end
  end
end

--- The current thread, or an error through `cb`.
local function need_thread(cb)
  local view = threads.current()
  if not view then
    cb({ message = 'no current thread (use :BatonStart or :BatonThreads)' })
  end
  return view
end

--- Starts a new thread (`thread/start`) and opens its chat buffer.
--- @param opts {provider: string?, model: string?, cwd: string?, title: string?, approval_policy: string?, sandbox: string?}?
--- @param cb fun(err: table?, thread: table?)?
function M.start(opts, cb)
  opts = opts or {}
  cb = cb or default_cb('start')
  local o = config.options
  local params = {
    provider = opts.provider or o.default_provider,
    cwd = vim.fs.normalize(vim.fn.fnamemodify(opts.cwd or o.cwd or vim.fn.getcwd(), ':p')),
    model = opts.model or o.model,
    approvalPolicy = opts.approval_policy or o.approval_policy,
    sandbox = opts.sandbox or o.sandbox,
    title = opts.title,
  }
  client.request('thread/start', params, function(err, result)
    if err or not result then
      return cb(err or { message = 'no result' })
    end
    local view = threads.update(result.thread)
    threads.show(view)
    cb(nil, result.thread)
  end)
end

--- Sends a prompt to the current thread (`turn/start`), starting a thread first when there is none.
--- @param text string
--- @param cb fun(err: table?, result: table?)?
--- @param opts {mode: 'default'|'plan'|nil}? `mode = 'plan'` asks the agent for a plan first
function M.send(text, cb, opts)
  cb = cb or default_cb('send')
  opts = opts or {}
  if not text or vim.trim(text) == '' then
    return cb({ message = 'nothing to send' })
  end
  local view = threads.current()
  if not view then
    return M.start({}, function(err)
      if err then
        return cb(err)
      end
      M.send(text, cb, opts)
    end)
  end
  threads.show(view)
  local params = {
    threadId = view.id,
    input = { { type = 'text', text = text } },
  }
  if opts.mode then
    params.mode = opts.mode
  end
  client.request('turn/start', params, cb)
end

--- Sends a prompt in plan mode (`turn/start {mode = "plan"}`): the agent plans and asks before it acts.
function M.plan(text, cb)
  M.send(text, cb or default_cb('plan'), { mode = 'plan' })
end

--- Interrupts the current thread's running turn (`turn/interrupt`).
function M.interrupt(cb)
  cb = cb or default_cb('interrupt')
  local view = need_thread(cb)
  if view then
    client.request('turn/interrupt', { threadId = view.id }, cb)
  end
end

--- Stops the current thread's provider session (`thread/stop`); `detach` also forgets its cursor.
--- @param detach boolean?
function M.stop(detach, cb)
  cb = cb or default_cb('stop')
  local view = need_thread(cb)
  if view then
    client.request('thread/stop', { threadId = view.id, detach = detach or false }, function(err, result)
      if result and result.thread then
        threads.update(result.thread)
      end
      cb(err, result)
    end)
  end
end

--- Takes the current thread over from the window that drives it (`thread/takeover`): that window
--- stops its session, and this one resumes the same provider thread.
function M.takeover(cb)
  cb = cb or function(err)
    if err then
      M.notify_error('takeover', err)
    else
      vim.notify('baton: this window now drives the thread', vim.log.levels.INFO)
    end
  end
  local view = need_thread(cb)
  if view then
    client.request('thread/takeover', { threadId = view.id }, function(err, result)
      if result and result.thread then
        threads.update(result.thread)
      end
      cb(err, result)
    end)
  end
end

--- Compacts the current thread's context on its provider (`thread/compact/start`).
--- @param instructions string?
function M.compact(instructions, cb)
  cb = cb or default_cb('compact')
  local view = need_thread(cb)
  if view then
    local params = { threadId = view.id }
    if instructions and instructions ~= '' then
      params.instructions = instructions
    end
    client.request('thread/compact/start', params, cb)
  end
end

--- Moves the current thread to another provider (`thread/switch`, handoff chosen by baton).
--- @param provider string
--- @param model string?
function M.switch(provider, model, cb)
  cb = cb or default_cb('switch')
  local view = need_thread(cb)
  if not view then
    return
  end
  client.request('thread/switch', { threadId = view.id, provider = provider, model = model }, function(err, result)
    if result and result.thread then
      threads.update(result.thread)
    end
    cb(err, result)
  end)
end

--- Opens a thread's chat buffer and renders its history (`thread/read`) plus what streams on.
--- @param id string
function M.open(id, cb)
  cb = cb or default_cb('open')
  local view = threads.view(id)
  threads.begin_loading(view)
  client.request('thread/read', { threadId = id, sinceSeq = view.seq }, function(err, result)
    if err or not result then
      threads.replay(view, {})
      return cb(err or { message = 'no result' })
    end
    threads.update(result.thread)
    threads.replay(view, result.events or {})
    threads.show(view)
    cb(nil, result.thread)
  end)
end

--- One line describing a thread in the picker.
function M.describe(t)
  local when = os.date('%Y-%m-%d %H:%M', math.floor((t.updatedAt or 0) / 1000))
  return ('%s  [%s%s · %s]  %s'):format(
    t.title or t.id:sub(1, 13),
    t.provider,
    t.model and (' · ' .. t.model) or '',
    t.status,
    when
  )
end

--- Lets the user pick a thread (`thread/list`, vim.ui.select) and opens it.
function M.pick(cb)
  cb = cb or default_cb('threads')
  client.request('thread/list', { limit = 100 }, function(err, result)
    if err or not result then
      return cb(err or { message = 'no result' })
    end
    if #result.threads == 0 then
      vim.notify('baton: no threads yet', vim.log.levels.INFO)
      return cb(nil, nil)
    end
    vim.ui.select(result.threads, { prompt = 'baton threads', kind = 'baton.thread', format_item = M.describe }, function(t)
      if not t then
        return cb(nil, nil)
      end
      M.open(t.id, cb)
    end)
  end)
end

return M
