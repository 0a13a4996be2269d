--- Ghost text appears after typing in insert mode, <Tab> inserts it, the server hears of it.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup({ inline = { debounce_ms = 20 } })

local ghost = T.ghost

T.run(function()
  local bufnr, client = T.open(os.getenv('HEARTH_NVIM_FILE') or 'calc.py')
  local commands = {}
  local exec_cmd = client.exec_cmd
  client.exec_cmd = function(self, command, ...)
    commands[#commands + 1] = command
    return exec_cmd(self, command, ...)
  end

  T.feed('Go' .. os.getenv('HEARTH_NVIM_TYPE'))
  T.wait(5000, function()
    return ghost(bufnr) ~= nil
  end, 'ghost text')
  local text, at = ghost(bufnr)
  T.result.ghost = text
  T.result.ghost_at = at
  T.result.mode_before = vim.api.nvim_get_mode().mode
  T.result.line_before = vim.api.nvim_get_current_line()

  T.feed('<Tab>')
  T.result.lines_after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  T.result.cursor_after = vim.api.nvim_win_get_cursor(0)
  T.result.commands = commands
  T.feed('<Esc>')
  T.wait(1000, function()
    return ghost(bufnr) == nil
  end, 'ghost text cleared on InsertLeave')
end)
