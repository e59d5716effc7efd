--- `:checkhealth baton`: is the baton binary there, which version, which providers it found, and
--- what is wrong in its config file (the same problems `baton doctor` lists).
local M = {}

function M.check()
  local health = vim.health
  local config = require('baton.config').options
  health.start('baton')
  local exe = config.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    health.error(('`%s` is not executable'):format(exe), { 'Set `cmd` in require("baton").setup{}' })
    return
  end
  health.ok('binary: ' .. vim.fn.exepath(exe))
  local client = require('baton.client')
  local ok, why = client.ensure()
  if not ok then
    health.error(why or 'baton did not start')
    return
  end
  local info = client.server or {}
  health.ok(('version %s, protocol %s'):format(
    info.serverInfo and info.serverInfo.version or '?',
    tostring(info.protocolVersion)
  ))
  for _, p in ipairs(info.providers or {}) do
    local kind = p.kind and p.kind ~= p.id and (' [' .. p.kind .. ']') or ''
    if p.available then
      health.ok(('%s%s %s (%s)'):format(p.id, kind, p.version or '(version not probed yet)', p.path or ''))
    else
      health.warn(('%s%s unavailable: %s'):format(p.id, kind, p.error or '?'))
    end
  end
  local errors = info.configErrors or {}
  if #errors == 0 then
    health.ok('config: no problems')
  end
  for _, e in ipairs(errors) do
    health.error('config: ' .. e, { 'Fix the config file; baton serves the providers that are valid' })
  end
end

return M
