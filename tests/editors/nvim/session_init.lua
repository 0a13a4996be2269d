--- Init file for the tmux session capture (tmux_session.py): the plugin with the in-process
--- stub server answering one completion, a statusline with Hearth's status, no user config.
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
vim.opt.runtimepath:prepend(vim.fs.joinpath(here, '..', '..', '..', 'editors', 'nvim'))
vim.cmd('filetype on')
vim.cmd('syntax on')
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'I'
vim.o.laststatus = 2
vim.o.statusline = " %f %m%=%{v:lua.require'hearth'.statusline()} "
vim.cmd('runtime plugin/hearth.lua')

local S = dofile(vim.fs.joinpath(here, 'stub_server.lua'))
S.handlers['textDocument/inlineCompletion'] = function(params)
  local line = vim.api.nvim_buf_get_lines(0, params.position.line, params.position.line + 1, false)[1] or ''
  if not line:match('^def add') then
    return { items = {} }
  end
  return {
    items = {
      {
        insertText = '(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n    return a + b',
        range = { start = params.position, ['end'] = params.position },
        command = { title = 'accept', command = 'hearth.acceptCompletion', arguments = { { id = 'c-1' } } },
      },
    },
  }
end
local initialize = S.handlers.initialize
S.handlers.initialize = function(params, dispatchers)
  vim.defer_fn(function()
    dispatchers.notification('hearth/status', {
      health = 'ok',
      quiescent = true,
      message = 'Indexed 2 files',
      index = { state = 'idle', files = 2, chunks = 5, pending = 0 },
    })
  end, 50)
  return initialize(params, dispatchers)
end

require('hearth').setup({ cmd = S.cmd, inline = { debounce_ms = 50 } })
vim.cmd.edit('stats.py')
