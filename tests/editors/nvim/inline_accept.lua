--- Ghost text appears after typing in insert mode, <Tab> inserts it, the server hears of it.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup({ inline = { debounce_ms = 20 } })

local function ghost(bufnr)
  local ns = vim.api.nvim_get_namespaces()['hearth.inline']
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  if #marks == 0 then
    return nil
  end
  local d = marks[1][4]
  local lines = { d.virt_text and d.virt_text[1][1] or '' }
  for _, vl in ipairs(d.virt_lines or {}) do
    lines[#lines + 1] = vl[1][1]
  end
  return table.concat(lines, '\n'), { marks[1][2], marks[1][3] }
end

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
