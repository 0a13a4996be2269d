--- setup(): defaults, merge, validation, the resolved vim.lsp config; the statusline from
--- `hearth/status` and indexing progress; :Hearth completion; protocol names for the Python side.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local S = T.stub()
local r = T.result

-- Invalid options are refused with the option's name.
local ok, err = pcall(require('hearth').setup, { inline = { debounce_ms = 'soon' } })
r.bad_debounce = { ok, tostring(err) }
ok, err = pcall(require('hearth').setup, { chat = { position = 'top' } })
r.bad_position = { ok, tostring(err) }
ok, err = pcall(require('hearth').setup, { inline = { keymaps = { accept = 3 } } })
r.bad_key = { ok, tostring(err) }

T.setup({
  cmd = S.cmd,
  settings = { completion = { debounceMs = 90 } },
  inline = { keymaps = { accept_word = { '<C-l>' }, dismiss = false } },
})
local cfg = require('hearth').config
r.keymaps = cfg.inline.keymaps
r.debounce_default = cfg.inline.debounce_ms
local lsp = vim.lsp.config.hearth
r.lsp = {
  root_markers = lsp.root_markers,
  filetypes = lsp.filetypes or false,
  init_options = lsp.init_options,
  settings = lsp.settings,
  has_status_handler = type(lsp.handlers['hearth/status']) == 'function',
}
r.protocol = require('hearth.protocol')
r.complete_all = vim.fn.getcompletion('Hearth ', 'cmdline')
r.complete_t = vim.fn.getcompletion('Hearth t', 'cmdline')
r.complete_index = vim.fn.getcompletion('Hearth index ', 'cmdline')

T.run(function()
  local status = require('hearth.status')
  local hearth = require('hearth')
  r.statusline_starting = hearth.statusline()
  local bufnr, client = T.open('calc.py')
  r.statusline_attached = hearth.statusline()
  r.keys = {
    tab = vim.fn.maparg('<Tab>', 'i', false, true).desc or false,
    word = vim.fn.maparg('<C-l>', 'i', false, true).desc or false,
    dismiss = vim.fn.maparg('<C-]>', 'i', false, true).desc or false,
  }
  -- The server's notification updates the statusline.
  local fired = 0
  vim.api.nvim_create_autocmd('User', {
    pattern = 'HearthStatus',
    callback = function()
      fired = fired + 1
    end,
  })
  S.dispatchers.notification('hearth/status', {
    health = 'ok',
    quiescent = true,
    message = 'Indexed 3 files',
    index = { state = 'idle', files = 3, chunks = 9, pending = 0 },
  })
  T.wait(1000, function()
    return fired > 0
  end, 'HearthStatus')
  r.statusline_ok = hearth.statusline()
  -- Work-done progress shows in the statusline and still reaches Neovim's handler.
  local progress_events = 0
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function()
      progress_events = progress_events + 1
    end,
  })
  S.dispatchers.notification('$/progress', { token = 'idx', value = { kind = 'begin', title = 'Hearth: indexing', percentage = 0 } })
  S.dispatchers.notification('$/progress', { token = 'idx', value = { kind = 'report', percentage = 66 } })
  T.wait(1000, function()
    return progress_events >= 2
  end, 'LspProgress')
  r.statusline_progress = hearth.statusline()
  S.dispatchers.notification('$/progress', { token = 'idx', value = { kind = 'end' } })
  S.dispatchers.notification('hearth/status', {
    health = 'error',
    quiescent = true,
    message = 'completion model down: connection refused at http://127.0.0.1:8000/v1',
    index = { state = 'idle', files = 3 },
  })
  T.wait(1000, function()
    return progress_events >= 3 and fired >= 2
  end, 'progress end and error status')
  r.statusline_error = hearth.statusline()
  r.status_lines = require('hearth.commands').format_status(status.get().status)
  r.client_name = client.name
  r.bufnr = bufnr
end)
