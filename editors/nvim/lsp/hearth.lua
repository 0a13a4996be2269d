--- Hearth language server configuration for Neovim 0.11+ (`vim.lsp.enable('hearth')`).
---
--- Override any field with `vim.lsp.config('hearth', {...})` or `require('hearth').setup({...})`.
---@type vim.lsp.Config
return {
  cmd = { 'hearth', 'serve' },
  -- nil: every filetype; Hearth indexes and completes any text file of the repository.
  filetypes = nil,
  root_markers = { '.git', '.hearthignore', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  -- The nearest directory with a root marker; else the current directory when the file lies
  -- under it (a checkout without markers is still indexed); else Hearth does not start.
  root_dir = function(bufnr, on_dir)
    local markers = vim.lsp.config.hearth and vim.lsp.config.hearth.root_markers
      or { '.git', '.hearthignore', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' }
    local root = vim.fs.root(bufnr, markers)
    if not root then
      local cwd = vim.fn.getcwd()
      local file = vim.api.nvim_buf_get_name(bufnr)
      if file ~= '' and vim.fs.relpath(cwd, file) then
        root = cwd
      end
    end
    if root then
      on_dir(root)
    end
  end,
  -- The plugin draws inline completions itself on 0.11: saying so keeps the server from also
  -- answering textDocument/completion with the same suggestion (its fallback for other clients).
  capabilities = { textDocument = { inlineCompletion = { dynamicRegistration = false } } },
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
  -- Code actions "Hearth: Explain" and "Hearth: Refactor…" run these commands in the editor.
  commands = {
    ['hearth.explain'] = function(command, ctx)
      return require('hearth.commands').client_commands['hearth.explain'](command, ctx)
    end,
    ['hearth.refactor'] = function(command, ctx)
      return require('hearth.commands').client_commands['hearth.refactor'](command, ctx)
    end,
  },
  on_attach = function(client, bufnr)
    require('hearth').on_attach(client, bufnr)
  end,
}
