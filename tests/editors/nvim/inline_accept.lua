--- Against the real `hearth serve`: ghost text appears after typing in insert mode, <Tab>
--- inserts it, and the server counts the acceptance (`hearth.status` completion_stats).
--- HEARTH_NVIM_FILE is the file to open, HEARTH_NVIM_TYPE what to type on a new last line.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup({ inline = { debounce_ms = 20 } })

local ghost = T.ghost

T.run(function()
  local bufnr, client = T.open(assert(os.getenv('HEARTH_NVIM_FILE')))
  local commands = {}
  local exec_cmd = client.exec_cmd
  client.exec_cmd = function(self, command, ...)
    commands[#commands + 1] = command
    return exec_cmd(self, command, ...)
  end
  T.result.capability_inline = client.server_capabilities.inlineCompletionProvider ~= nil

  -- What is typed is exactly what lands in the buffer (no indent rules of the user's config).
  vim.bo[bufnr].autoindent = false
  vim.bo[bufnr].expandtab = true
  T.feed('Go' .. assert(os.getenv('HEARTH_NVIM_TYPE')))
  T.wait(5000, function()
    return ghost(bufnr) ~= nil
  end, 'ghost text')
  local text, at = ghost(bufnr)
  T.result.ghost = text
  T.result.ghost_at = at
  T.result.mode_before = vim.api.nvim_get_mode().mode
  T.result.line_before = vim.api.nvim_get_current_line()

  T.feed('<Tab>')
  T.result.ghost_after = ghost(bufnr) or false
  T.result.lines_after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  T.result.cursor_after = vim.api.nvim_win_get_cursor(0)
  T.result.commands = commands

  -- The accept command went out before this request: the server has counted it when it answers.
  local status = T.request(client, 'workspace/executeCommand', { command = 'hearth.status', arguments = {} })
  T.result.completion_stats = status.completion_stats
  -- The client said it shows inline completions: no duplicate in textDocument/completion.
  local fallback = T.request(client, 'textDocument/completion', vim.lsp.util.make_position_params(0, 'utf-16'))
  T.result.completion_fallback = fallback == nil and 'null' or fallback
  local trace = T.request(client, 'hearth/trace', { uri = vim.uri_from_bufnr(bufnr) })
  T.result.trace = { id = trace.id, outcome = trace.outcome, text = trace.text }
  T.feed('<Esc>')
  T.wait(1000, function()
    return ghost(bufnr) == nil
  end, 'ghost text cleared on InsertLeave')
end)
