--- Hearth language server configuration for Neovim 0.11+ (`vim.lsp.enable('hearth')`).
---
--- Override any field with `vim.lsp.config('hearth', {...})` or `require('hearth').setup({...})`.
---@type vim.lsp.Config
return {
  cmd = { 'hearth', 'serve' },
  -- nil: every filetype; Hearth indexes and completes any text file of the repository.
  filetypes = nil,
  root_markers = { '.git', '.hearthignore', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  -- Hearth's settings tree (camelCase, see docs/configuration.md).
  init_options = {},
  settings = { hearth = {} },
  handlers = {
    ['hearth/status'] = function(err, result, ctx)
      return require('hearth.status').on_status(err, result, ctx)
    end,
    ['$/progress'] = function(err, result, ctx)
      return require('hearth.status').on_progress(err, result, ctx)
    end,
  },
  on_attach = function(client, bufnr)
    require('hearth').on_attach(client, bufnr)
  end,
}
