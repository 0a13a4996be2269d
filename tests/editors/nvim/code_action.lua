--- A Hearth code action, chosen by its title (HEARTH_NVIM_ACTION), at line HEARTH_NVIM_LINE.
--- Edit actions: Neovim resolves the action and applies its edit; the scenario waits for the
--- buffer to change. With HEARTH_NVIM_EXPECT=chat (Explain): the client runs the action's
--- command itself and streams the answer into the chat buffer.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup()

T.run(function()
  local bufnr = T.open(assert(os.getenv('HEARTH_NVIM_FILE')))
  local before = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  vim.api.nvim_win_set_cursor(0, { tonumber(assert(os.getenv('HEARTH_NVIM_LINE'))), 0 })
  local pattern = assert(os.getenv('HEARTH_NVIM_ACTION'))
  local chat_done = false
  vim.api.nvim_create_autocmd('User', {
    pattern = 'HearthChatDone',
    callback = function()
      chat_done = true
    end,
  })
  local titles = {}
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      titles[#titles + 1] = action.title
      return action.title:lower():find(pattern:lower(), 1, true) ~= nil
    end,
  })
  if os.getenv('HEARTH_NVIM_EXPECT') == 'chat' then
    T.wait(10000, function()
      return chat_done
    end, 'the explanation in the chat buffer')
    T.result.chat = vim.api.nvim_buf_get_lines(vim.fn.bufnr('hearth://chat'), 0, -1, false)
  else
    T.wait(10000, function()
      return not vim.deep_equal(before, vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))
    end, 'the code action to change the buffer')
  end
  T.result.titles = titles
  T.result.before = before
  T.result.after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end)
