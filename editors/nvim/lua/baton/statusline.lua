--- A statusline component for the current thread: `provider · model · state · N% ctx`. Cheap enough to run
--- on every redraw: it only reads the view that `thread/event`s keep up to date.
local M = {}

--- How full the model's context is, in percent, from the last `usage.updated`; nil when unknown.
--- @param usage table?
--- @return integer?
function M.context_percent(usage)
  local used, window = usage and usage.contextTokens, usage and usage.contextWindow
  if type(used) ~= 'number' or type(window) ~= 'number' or window <= 0 then
    return nil
  end
  return math.floor(used * 100 / window + 0.5)
end

--- The current thread's `provider · model · state` (and `N% ctx` when the context fill is known),
--- or "" when there is none.
--- @return string
function M.statusline()
  local view = require('baton.threads').current()
  if not view then
    return ''
  end
  local parts = { view.provider or '?' }
  if view.model and view.model ~= '' then
    table.insert(parts, view.model)
  end
  table.insert(parts, view.status or 'unknown')
  local pct = M.context_percent(view.usage)
  if pct then
    table.insert(parts, pct .. '% ctx')
  end
  return table.concat(parts, ' · ')
end

return M
