--- Init file for the tmux session capture (tmux_session.py): the plugin starting the server
--- command of HEARTH_NVIM_CMD, a statusline with Hearth's status, no user config.
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
vim.opt.runtimepath:prepend(vim.fs.joinpath(here, '..', '..', '..', 'editors', 'nvim'))
vim.cmd('filetype on')
vim.cmd('syntax on')
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'I'
vim.o.laststatus = 2
vim.o.statusline = " %f %m%=%{v:lua.require'hearth'.statusline()} "
vim.cmd('runtime plugin/hearth.lua')

require('hearth').setup({ cmd = vim.json.decode(assert(os.getenv('HEARTH_NVIM_CMD'))), inline = { debounce_ms = 50 } })
vim.cmd.edit(assert(os.getenv('HEARTH_NVIM_FILE')))
