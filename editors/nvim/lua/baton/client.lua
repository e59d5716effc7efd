--- The one baton process of this Neovim: spawned lazily over `vim.lsp.rpc.start` (LSP
--- Content-Length framing), initialized once, and shut down in order when Neovim exits.
--- Notifications go to the thread views; `approval/request` and `input/request` are answered from
--- a coroutine so the user can take their time choosing.
local config = require('baton.config')

local M = {}

--- @type vim.lsp.rpc.PublicClient?
local rpc = nil
local on_exit
M._generation = 0
--- The `initialize` result: serverInfo, protocolVersion, providers.
M.server = nil

--- Formats an RPC error for a message.
--- @param err table|string|nil
function M.errmsg(err)
  if type(err) == 'table' then
    return (err.message or vim.inspect(err)) .. (err.code and (' (' .. err.code .. ')') or '')
  end
  return tostring(err)
end

local function on_notification(method, params)
  if method == 'thread/event' then
    -- An ask resolved by someone else than the user (baton withdrew it): close its prompt.
    local data = type(params) == 'table' and params.data or nil
    if
      type(data) == 'table'
      and data.by
      and (params.type == 'approval.resolved' or params.type == 'input.resolved')
    then
      require('baton.approval').withdraw(data.requestId, data.by)
    end
    require('baton.threads').on_event(params)
  elseif method == 'provider/changed' and M.server then
    -- A background probe (baton answers `initialize` from its cache) found versions or problems
    -- that differ from what `initialize` said: keep the list `:checkhealth` and completion use.
    M.server.providers = params.providers
  end
end

local function on_server_request(method, params)
  if method == 'approval/request' then
    return require('baton.approval').ask(params)
  elseif method == 'input/request' then
    return require('baton.input').ask(params)
  end
  return nil, vim.lsp.rpc.rpc_response_error(vim.lsp.protocol.ErrorCodes.MethodNotFound, method)
end

--- Each spawn gets its own exit handler, so a late exit of an old process never clears a newer one.
local function exit_handler(generation)
  return function(code, signal)
    vim.schedule(function()
      if generation ~= M._generation then
        return
      end
      on_exit(code, signal)
    end)
  end
end

on_exit = function(code, signal)
  local was = rpc
  rpc = nil
  M.server = nil
  if was and not M._stopping then
    vim.notify(
      ('baton exited (code %s, signal %s)'):format(tostring(code), tostring(signal)),
      vim.log.levels.WARN
    )
  end
  M._stopping = false
  require('baton.threads').on_disconnect()
end

--- True while a baton process is connected.
function M.running()
  return rpc ~= nil and not rpc.is_closing()
end

--- Waits (bounded) for an asynchronous request; only from the main loop, never a fast callback.
--- @return any result, table? err
local function wait_request(method, params, timeout)
  local done, result, err = false, nil, nil
  local ok = rpc and rpc.request(method, params, function(e, r)
    done, result, err = true, r, e
  end)
  if not ok then
    return nil, { message = 'baton is not running' }
  end
  if not vim.wait(timeout or config.options.timeout_ms, function()
    return done
  end, 10) then
    return nil, { message = method .. ' timed out' }
  end
  return result, err
end

--- Starts and initializes baton unless it runs already.
--- @return boolean ok, string? error
function M.ensure()
  if M.running() and M.server then
    return true
  end
  if M._initializing then
    -- Another caller is inside initialize (its vim.wait let us run): wait for it, never spawn twice.
    vim.wait(config.options.timeout_ms, function()
      return not M._initializing
    end, 10)
    return M.server ~= nil, M.server == nil and 'baton did not initialize' or nil
  end
  local opts = config.options
  M._generation = M._generation + 1
  local ok, client = pcall(vim.lsp.rpc.start, opts.cmd, {
    notification = on_notification,
    server_request = on_server_request,
    on_exit = exit_handler(M._generation),
    on_error = function(code, err)
      vim.notify('baton rpc error ' .. tostring(code) .. ': ' .. M.errmsg(err), vim.log.levels.ERROR)
    end,
  }, { env = opts.env })
  if not ok then
    return false, 'cannot start baton (' .. table.concat(opts.cmd, ' ') .. '): ' .. tostring(client)
  end
  rpc = client
  M._initializing = true
  local result, err = wait_request('initialize', {
    processId = vim.fn.getpid(),
    clientInfo = { name = 'nvim', version = tostring(vim.version()) },
    rootUri = vim.NIL,
    capabilities = vim.empty_dict(),
    initializationOptions = next(opts.init_options or {}) and opts.init_options or vim.empty_dict(),
  })
  M._initializing = false
  if err or not result then
    M.stop()
    return false, 'baton initialize failed: ' .. M.errmsg(err)
  end
  M.server = result
  client.notify('initialized', vim.empty_dict())
  return true
end

--- Sends a request, starting baton first if needed; `cb(err, result)` runs on the main loop.
--- @param method string
--- @param params table
--- @param cb fun(err: table?, result: any)?
function M.request(method, params, cb)
  cb = cb or function(err)
    if err then
      vim.notify('baton ' .. method .. ': ' .. M.errmsg(err), vim.log.levels.ERROR)
    end
  end
  local ok, why = M.ensure()
  if not ok then
    cb({ message = why })
    return
  end
  ---@cast rpc -nil
  if not rpc.request(method, params, cb) then
    cb({ message = 'baton is not running' })
  end
end

--- Shuts baton down in order (shutdown, exit), bounded; ends it by force if it does not go.
function M.stop()
  if not rpc then
    return
  end
  M._stopping = true
  local client = rpc
  if not client.is_closing() then
    wait_request('shutdown', nil, 3000)
    client.notify('exit', nil)
  end
  vim.wait(3000, function()
    return rpc == nil
  end, 10)
  if rpc then
    client.terminate()
    on_exit(nil, nil)
  end
  M._generation = M._generation + 1
end

return M
