--- The threads this Neovim knows: one view per thread (its chat buffer, provider, model, state,
--- the last event seq rendered) and which thread is current. Live `thread/event` notifications and
--- `thread/read` replays both land here, deduplicated by seq, so a reopened thread renders exactly
--- once and in order.
local render = require('baton.render')

local M = {}

--- @class baton.View
--- @field id string
--- @field buf integer
--- @field provider string?
--- @field model string?
--- @field status string?
--- @field title string?
--- @field seq integer last event seq rendered
--- @field loading table[]? live events held back while a replay is in flight
--- @field usage table?
--- @field rate_limits table? the last `rate_limit.updated`
--- @field r table render state

--- @type table<string, baton.View>
M.views = {}
--- The thread commands act on when the current buffer is no chat buffer.
M.last = nil

local function new_view(id)
  local view = { id = id, seq = 0, r = {} }
  view.buf = render.create_buffer(view)
  M.views[id] = view
  return view
end

--- The view of a thread, created (with an empty chat buffer) when missing or wiped.
--- @param id string
--- @return baton.View
function M.view(id)
  local view = M.views[id]
  if view and vim.api.nvim_buf_is_valid(view.buf) then
    return view
  end
  return new_view(id)
end

--- Takes the fields of a protocol Thread into its view.
--- @param thread table
--- @return baton.View
function M.update(thread)
  local view = M.view(thread.id)
  view.provider = thread.provider or view.provider
  view.model = thread.model or view.model
  view.status = thread.status or view.status
  view.title = thread.title or view.title
  render.name_buffer(view)
  return view
end

--- The current thread's view: the chat buffer's thread when in one, else the last used.
--- @return baton.View?
function M.current()
  local id = vim.b.baton_thread_id or M.last
  local view = id and M.views[id]
  if view and vim.api.nvim_buf_is_valid(view.buf) then
    return view
  end
  return nil
end

local function apply(view, ev)
  if ev.seq and ev.seq <= view.seq then
    return
  end
  view.seq = ev.seq or view.seq
  if ev.provider and ev.provider ~= view.provider then
    view.provider = ev.provider
    render.name_buffer(view)
  end
  local data = ev.data or {}
  if ev.type == 'thread.status' then
    view.status = data.status
  elseif ev.type == 'session.started' then
    -- A new session (possibly on another provider after a handoff) defines the model afresh.
    view.model = data.model
  elseif ev.type == 'turn.started' then
    view.model = data.model or view.model
  elseif ev.type == 'session.exited' and view.status ~= 'error' then
    view.status = 'stopped'
  elseif ev.type == 'handoff.completed' and data.to then
    view.provider = data.to
    render.name_buffer(view)
  elseif ev.type == 'usage.updated' then
    view.usage = data
  elseif ev.type == 'model.rerouted' and data.toModel then
    view.model = data.toModel
  elseif ev.type == 'rate_limit.updated' then
    view.rate_limits = data
  end
  render.event(view, ev)
end

--- A `thread/event` notification.
--- @param ev table
function M.on_event(ev)
  if type(ev) ~= 'table' or not ev.threadId then
    return
  end
  local view = M.view(ev.threadId)
  if view.loading then
    table.insert(view.loading, ev)
    return
  end
  apply(view, ev)
  vim.cmd.redrawstatus({ bang = true })
end

--- Replays persisted events (from `thread/read`) into a view, then the live ones held meanwhile.
--- @param view baton.View
--- @param events table[]
function M.replay(view, events)
  local held = view.loading or {}
  view.loading = nil
  for _, ev in ipairs(events) do
    apply(view, ev)
  end
  for _, ev in ipairs(held) do
    apply(view, ev)
  end
  vim.cmd.redrawstatus({ bang = true })
end

--- Marks a view as waiting for its replay: live events are held until `replay`.
function M.begin_loading(view)
  view.loading = view.loading or {}
end

--- Shows the chat buffer of a thread in a window according to `how` (see config `open`).
--- @param view baton.View
--- @param how string?
function M.show(view, how)
  M.last = view.id
  how = how or require('baton.config').options.open
  local wins = vim.fn.win_findbuf(view.buf)
  if #wins > 0 then
    return wins[1]
  end
  if how == 'none' then
    return nil
  elseif how == 'split' then
    vim.cmd('botright split')
  elseif how == 'vsplit' then
    vim.cmd('botright vsplit')
  elseif how == 'tab' then
    vim.cmd('tabnew')
  end
  vim.api.nvim_win_set_buf(0, view.buf)
  render.scroll_to_end(view)
  return vim.api.nvim_get_current_win()
end

--- Called before an approval prompt, so the user sees what the agent is doing.
function M.show_approval(params)
  local view = params and params.threadId and M.views[params.threadId]
  if view and vim.api.nvim_buf_is_valid(view.buf) then
    M.show(view)
  end
end

--- baton went away: no thread is running any more.
function M.on_disconnect()
  for _, view in pairs(M.views) do
    view.loading = nil
    if view.status == 'running' or view.status == 'idle' then
      view.status = 'stopped'
    end
  end
  pcall(vim.cmd.redrawstatus, { bang = true })
end

--- Forgets every view (their buffers are wiped); used when the user wants a clean slate.
function M.reset()
  for _, view in pairs(M.views) do
    if vim.api.nvim_buf_is_valid(view.buf) then
      vim.api.nvim_buf_delete(view.buf, { force = true })
    end
  end
  M.views = {}
  M.last = nil
end

return M
