-- Loaded on startup: defines the commands (with the default options) so `:Baton…` works without
-- setup();
-- baton itself starts lazily on the first command.
if vim.g.loaded_baton then
  return
end
vim.g.loaded_baton = true
require('baton').init()
