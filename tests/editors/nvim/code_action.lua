--- A Hearth code action changes the buffer: Neovim resolves it, the server applies the edit
--- (directly or with workspace/applyEdit from its command).
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup()

T.run(function()
  local bufnr = T.open(os.getenv('HEARTH_NVIM_FILE') or 'calc.py')
  local before = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  local line = tonumber(os.getenv('HEARTH_NVIM_LINE') or '1')
  vim.api.nvim_win_set_cursor(0, { line, 0 })
  local pattern = os.getenv('HEARTH_NVIM_ACTION') or 'docstring'
  local titles = {}
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      titles[#titles + 1] = action.title
      return action.title:lower():find(pattern:lower(), 1, true) ~= nil
    end,
  })
  T.wait(10000, function()
    return not vim.deep_equal(before, vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))
  end, 'the code action to change the buffer')
  T.result.titles = titles
  T.result.before = before
  T.result.after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end)
