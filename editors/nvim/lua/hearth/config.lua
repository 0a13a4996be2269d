--- Hearth's Neovim options: defaults, merge and validation.
local M = {}

---@class hearth.Keymaps
---@field accept string|false
---@field accept_word string|string[]|false
---@field accept_line string|false
---@field next string|false
---@field prev string|false
---@field dismiss string|false

---@class hearth.Opts
M.defaults = {
  --- Start the server for every buffer with `vim.lsp.enable('hearth')` (false: call it yourself).
  enable = true,
  --- The server command; a list as in `vim.lsp.Config.cmd`.
  cmd = { 'hearth', 'serve' },
  --- Extra environment for the server process.
  cmd_env = nil,
  --- Hearth's settings tree (camelCase, docs/configuration.md), sent as `initializationOptions`
  --- and as `workspace/didChangeConfiguration` `{settings = {hearth = ...}}`.
  settings = {},
  inline = {
    --- Show inline completions (ghost text) in insert mode.
    enabled = true,
    --- Use Neovim's own `vim.lsp.inline_completion` (0.12+) when it exists.
    native = true,
    --- Wait this long after the last keystroke before asking the server.
    debounce_ms = 75,
    --- Highlight group of the ghost text.
    hl_group = 'HearthGhostText',
    --- Insert-mode keys; false disables one. Keys fall through when no suggestion shows.
    keymaps = {
      accept = '<Tab>',
      accept_word = { '<M-w>', '<C-Right>' },
      accept_line = '<M-l>',
      next = '<M-]>',
      prev = '<M-[>',
      dismiss = '<C-]>',
    },
  },
  chat = {
    --- Where the chat and explain buffer opens: 'right', 'left', 'below', 'above'.
    position = 'right',
    --- Width (right/left) or height (below/above) of the split; nil: half the editor.
    size = nil,
  },
  statusline = {
    --- Text shown before the status, by health.
    icons = { ok = 'H', warning = 'H!', error = 'H✗', starting = 'H…' },
  },
}

local function validate_key(name, value)
  vim.validate(name, value, function(v)
    if v == false or type(v) == 'string' then
      return true
    end
    if type(v) == 'table' then
      for _, k in ipairs(v) do
        if type(k) ~= 'string' then
          return false
        end
      end
      return true
    end
    return false
  end, 'a key, a list of keys, or false')
end

--- Check an option tree; raises an error naming the first invalid option.
---@param o hearth.Opts
function M.validate(o)
  vim.validate('enable', o.enable, 'boolean')
  vim.validate('cmd', o.cmd, function(v)
    return type(v) == 'function' or (type(v) == 'table' and #v > 0 and type(v[1]) == 'string')
  end, 'a non-empty list of strings')
  vim.validate('cmd_env', o.cmd_env, 'table', true)
  vim.validate('settings', o.settings, 'table')
  vim.validate('inline', o.inline, 'table')
  vim.validate('inline.enabled', o.inline.enabled, 'boolean')
  vim.validate('inline.native', o.inline.native, 'boolean')
  vim.validate('inline.debounce_ms', o.inline.debounce_ms, function(v)
    return type(v) == 'number' and v >= 0
  end, 'a number >= 0')
  vim.validate('inline.hl_group', o.inline.hl_group, 'string')
  vim.validate('inline.keymaps', o.inline.keymaps, 'table')
  for _, name in ipairs({ 'accept', 'accept_word', 'accept_line', 'next', 'prev', 'dismiss' }) do
    validate_key('inline.keymaps.' .. name, o.inline.keymaps[name])
  end
  vim.validate('chat', o.chat, 'table')
  vim.validate('chat.position', o.chat.position, function(v)
    return vim.list_contains({ 'right', 'left', 'below', 'above' }, v)
  end, "'right', 'left', 'below' or 'above'")
  vim.validate('chat.size', o.chat.size, 'number', true)
  vim.validate('statusline.icons', o.statusline.icons, 'table')
end

--- Merge user options over the defaults and validate the result.
---@param opts? table
---@return hearth.Opts
function M.resolve(opts)
  vim.validate('opts', opts, 'table', true)
  local o = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  -- Lists replace, they do not merge by index.
  if opts and opts.cmd then
    o.cmd = opts.cmd
  end
  local keys = vim.tbl_get(opts or {}, 'inline', 'keymaps') or {}
  for name, value in pairs(keys) do
    o.inline.keymaps[name] = value
  end
  local ok, err = pcall(M.validate, o)
  if not ok then
    error('hearth.setup: ' .. tostring(err):gsub('^.-:%d+: ', ''), 0)
  end
  return o
end

return M
