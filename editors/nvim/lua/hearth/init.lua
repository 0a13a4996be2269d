--- Hearth for Neovim: setup, the per-buffer attach, and the statusline function.
local config = require('hearth.config')

local M = {}

--- The options in effect (the defaults until `setup` is called).
---@type hearth.Opts
M.config = vim.deepcopy(config.defaults)

local function define_highlights()
  vim.api.nvim_set_hl(0, 'HearthGhostText', { link = 'Comment', default = true })
end

--- Configure Hearth and (unless `enable = false`) start it for every buffer.
---@param opts? table see `:help hearth-options`
function M.setup(opts)
  M.config = config.resolve(opts)
  define_highlights()
  local settings = M.config.settings
  vim.lsp.config('hearth', {
    cmd = M.config.cmd,
    cmd_env = M.config.cmd_env,
    init_options = settings,
    settings = { hearth = settings },
    -- Without ghost text, the server's textDocument/completion fallback carries the suggestions.
    capabilities = { textDocument = { inlineCompletion = M.config.inline.enabled and { dynamicRegistration = false }
      or vim.NIL } },
  })
  if M.config.enable then
    vim.lsp.enable('hearth')
  end
end

--- The Hearth client attached to `bufnr` (default: current buffer), or any Hearth client.
---@param bufnr? integer
---@return vim.lsp.Client?
function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = 'hearth', bufnr = bufnr or vim.api.nvim_get_current_buf() })
  if #clients == 0 then
    clients = vim.lsp.get_clients({ name = 'hearth' })
  end
  return clients[1]
end

--- Called from the `on_attach` of `lsp/hearth.lua` for every buffer the client attaches to.
---@param client vim.lsp.Client
---@param bufnr integer
function M.on_attach(client, bufnr)
  define_highlights()
  if M.config.inline.enabled then
    require('hearth.inline').attach(client, bufnr, M.config.inline)
  end
end

--- A short string for the statusline: health and index progress (`''` when Hearth is not running).
--- Example: `vim.o.statusline = '%f %= %{v:lua.require("hearth").statusline()}'`
---@return string
function M.statusline()
  return require('hearth.status').statusline()
end

return M
