--- `:checkhealth hearth` with no Hearth client running: the check starts a throwaway server
--- (HEARTH_NVIM_CMD) itself. The report goes to the Python side.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup({ enable = false })

T.run(function()
  vim.cmd('checkhealth hearth')
  T.result.report = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  T.result.clients = #vim.lsp.get_clients({ name = 'hearth' })
end)
