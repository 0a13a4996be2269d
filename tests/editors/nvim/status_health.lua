--- Against the real `hearth serve`: the statusline follows `hearth/status` and the indexing
--- progress until the index is idle, then `:checkhealth hearth` reports on the running server.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
T.setup()

vim.o.laststatus = 2
vim.o.statusline = "%f%=%{v:lua.require'hearth'.statusline()}"

--- What the user sees: the statusline option evaluated (only Hearth's part of it, right of %=).
local function shown()
  local s = vim.api.nvim_eval_statusline(vim.o.statusline, { maxwidth = 200 }).str
  return vim.trim(s:match('%s%s+(.*)$') or '')
end

local seen = {}
local status = require('hearth.status')
for _, name in ipairs({ 'on_status', 'on_progress' }) do
  local orig = status[name]
  status[name] = function(...)
    local ret = orig(...)
    local text = status.statusline()
    if seen[#seen] ~= text then
      seen[#seen + 1] = text
    end
    return ret
  end
end

T.run(function()
  T.result.before_start = require('hearth').statusline()
  local bufnr = T.open('shop/cart.py')
  local ok = vim.wait(10000, function()
    local s = status.get().status
    return s and s.quiescent and vim.tbl_get(s, 'index', 'state') == 'idle' and status.get().progress == nil
  end, 10)
  if not ok then
    error('timed out waiting for the index to be idle: ' .. vim.inspect(status.get()) .. vim.inspect(seen))
  end
  T.result.status = status.get().status
  T.result.statusline = shown()
  T.result.seen = seen

  vim.cmd('checkhealth hearth')
  T.result.report = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  T.result.bufnr_ok = vim.api.nvim_buf_is_valid(bufnr)
end)
