--- Test harness for Hearth's Neovim client, sourced by each scenario script.
---
--- Scenarios run as `nvim --headless -u NONE -i NONE -S <scenario.lua>`: `-S` (not `-l`) so that
--- Neovim's main loop runs and typed keys go through real insert mode with its autocommands.
--- A scenario is a coroutine; `T.feed` types keys and resumes once Neovim has processed them,
--- `T.wait` waits on a condition with `vim.wait`. Exit status 0 means pass; failures are written
--- to stderr. The environment gives the plugin path (HEARTH_NVIM_RTP), the server command as a JSON
--- list (HEARTH_NVIM_CMD) and the workspace (HEARTH_NVIM_WORKSPACE).
local T = {}

local co

vim.opt.runtimepath:prepend(assert(os.getenv('HEARTH_NVIM_RTP'), 'HEARTH_NVIM_RTP'))
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'IF'
vim.cmd('filetype on')
vim.cmd('runtime plugin/hearth.lua')

local function log(...)
  local parts = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    parts[#parts + 1] = type(v) == 'string' and v or vim.inspect(v)
  end
  io.stderr:write(table.concat(parts, ' '), '\n')
end
T.log = log

--- Record an observation for the Python side (written as JSON to HEARTH_NVIM_RESULT at the end).
T.result = {}

local function write_result()
  local path = os.getenv('HEARTH_NVIM_RESULT')
  if path then
    local f = assert(io.open(path, 'w'))
    f:write(vim.json.encode(T.result))
    f:close()
  end
end

local function finish(code)
  io.stderr:flush()
  vim.cmd((code == 0 and 'qall!') or ('cquit ' .. code))
end

-- Whatever happens (an error while the scenario loads included), Neovim exits in the end.
vim.defer_fn(function()
  log('FAIL: scenario timed out')
  finish(2)
end, tonumber(os.getenv('HEARTH_NVIM_TIMEOUT_MS') or '20000'))
vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    if not co then
      log('FAIL: the scenario did not start (see the error above)')
      finish(3)
    end
  end,
})

--- Resume the scenario from the event loop.
function T.resume()
  vim.schedule(function()
    local ok, err = coroutine.resume(co)
    if not ok then
      write_result()
      log('FAIL: ' .. debug.traceback(co, tostring(err)))
      finish(1)
    elseif coroutine.status(co) == 'dead' then
      write_result()
      log('PASS')
      finish(0)
    end
  end)
end
_G.__hearth_test_resume = T.resume

--- Type `keys` (with <> notation) and continue once Neovim has processed them.
function T.feed(keys)
  vim.api.nvim_feedkeys(vim.keycode(keys .. '<Cmd>lua __hearth_test_resume()<CR>'), 't', false)
  coroutine.yield()
end

--- Let the event loop run once.
function T.tick()
  T.resume()
  coroutine.yield()
end

--- Wait until `cond()` is true, failing with `what` after `ms`.
function T.wait(ms, cond, what)
  if not vim.wait(ms, cond, 10) then
    error('timed out waiting for ' .. what, 2)
  end
end

function T.eq(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(('%s: expected %s, got %s'):format(what or 'value', vim.inspect(expected), vim.inspect(actual)), 2)
  end
end

function T.truthy(v, what)
  if not v then
    error((what or 'value') .. ' is false', 2)
  end
  return v
end

--- Put the plugin on the runtimepath, configure it for the server under test, and open `file`.
---@param opts? table passed to require('hearth').setup, merged over the test's cmd
function T.setup(opts)
  opts = opts or {}
  if not opts.cmd then
    opts.cmd = vim.json.decode((assert(os.getenv('HEARTH_NVIM_CMD'), 'HEARTH_NVIM_CMD')))
  end
  require('hearth').setup(opts)
  T.workspace = assert(os.getenv('HEARTH_NVIM_WORKSPACE'))
end

--- The in-process stub server (tests/editors/nvim/stub_server.lua).
function T.stub()
  return dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'stub_server.lua'))
end

--- The ghost text drawn in `bufnr`: its text (virt_text and virt_lines joined with newlines),
--- its position and its extmark details; nil when none shows.
function T.ghost(bufnr)
  local ns = vim.api.nvim_get_namespaces()['hearth.inline']
  local marks = ns and vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
  if #marks == 0 then
    return nil
  end
  local d = marks[1][4]
  local lines = { d.virt_text and d.virt_text[1][1] or '' }
  for _, vl in ipairs(d.virt_lines or {}) do
    lines[#lines + 1] = vl[1][1]
  end
  return table.concat(lines, '\n'), { marks[1][2], marks[1][3] }, d
end

--- Open `path` (relative to the workspace) and wait until Hearth is attached.
---@return integer bufnr, vim.lsp.Client client
function T.open(path)
  vim.cmd.edit(vim.fs.joinpath(T.workspace, path))
  local bufnr = vim.api.nvim_get_current_buf()
  local client
  T.wait(8000, function()
    client = vim.lsp.get_clients({ bufnr = bufnr, name = 'hearth' })[1]
    return client ~= nil and client.initialized
  end, 'hearth to attach')
  return bufnr, client
end

--- Wait until the server reports its index idle (`hearth/status`), with no indexing progress.
---@return table status
function T.indexed(ms)
  local status = require('hearth.status')
  T.wait(ms or 10000, function()
    local s = status.get().status
    return s and s.quiescent and vim.tbl_get(s, 'index', 'state') == 'idle' and status.get().progress == nil
  end, 'the index to be idle')
  return status.get().status
end

--- Send a request from the scenario and wait for its answer (fails on an error or timeout).
---@param client vim.lsp.Client
---@return any result
function T.request(client, method, params, ms)
  local done, err, result = false, nil, nil
  client:request(method, params, function(e, r)
    done, err, result = true, e, r
  end)
  T.wait(ms or 5000, function()
    return done
  end, method)
  if err then
    error(('%s failed: %s'):format(method, err.message or vim.inspect(err)), 2)
  end
  return result
end

--- Run `fn` as the scenario.
function T.run(fn)
  co = coroutine.create(fn)
  T.resume()
end

return T
