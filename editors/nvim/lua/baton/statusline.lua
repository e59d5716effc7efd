--- A statusline component for the current thread: `provider · model · state`. Cheap enough to run
--- on every redraw: it only reads the view that `thread/event`s keep up to date.
local M = {}

--- The current thread's `provider · model · state`, or "" when there is none.
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
  return table.concat(parts, ' · ')
end

return M
