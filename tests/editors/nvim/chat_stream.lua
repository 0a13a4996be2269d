--- `:Hearth chat` streams the answer into the chat buffer, then lists sources that open on <CR>.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup()

T.run(function()
  local t0 = vim.uv.hrtime()
  local src = T.open(os.getenv('HEARTH_NVIM_FILE') or 'calc.py')
  T.result.open_ms = (vim.uv.hrtime() - t0) / 1e6
  T.indexed()
  T.result.indexed_ms = (vim.uv.hrtime() - t0) / 1e6
  local snapshots = {}
  local done = false
  vim.api.nvim_create_autocmd('User', {
    pattern = 'HearthChatDone',
    callback = function()
      done = true
    end,
  })
  vim.cmd('Hearth chat ' .. (os.getenv('HEARTH_NVIM_MESSAGE') or 'What does add do?'))
  local chat = vim.fn.bufnr('hearth://chat')
  T.truthy(chat ~= -1, 'chat buffer')
  vim.api.nvim_buf_attach(chat, false, {
    on_lines = function()
      snapshots[#snapshots + 1] = true
    end,
  })
  T.truthy(vim.fn.bufwinid(chat) ~= -1, 'chat window')
  T.wait(10000, function()
    return done
  end, 'the chat answer')
  T.result.answered_ms = (vim.uv.hrtime() - t0) / 1e6
  local lines = vim.api.nvim_buf_get_lines(chat, 0, -1, false)
  T.result.lines = lines
  T.result.updates = #snapshots
  T.result.filetype = vim.bo[chat].filetype
  T.result.conversation = vim.b[chat].hearth_sources ~= nil

  -- <CR> on the first source line opens that location.
  local source_line
  for i, l in ipairs(lines) do
    if l == 'Sources:' then
      source_line = i + 1
    end
  end
  if source_line and lines[source_line] then
    vim.fn.win_gotoid(vim.fn.bufwinid(chat))
    vim.api.nvim_win_set_cursor(0, { source_line, 0 })
    T.feed('<CR>')
    T.result.opened = vim.api.nvim_buf_get_name(0)
    T.result.opened_line = vim.api.nvim_win_get_cursor(0)[1]
  end
  T.result.source_buf = vim.api.nvim_buf_get_name(src)
end)
