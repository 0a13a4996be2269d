--- `:checkhealth hearth`: the binary, the server's start, then its database, models and index.
local protocol = require('hearth.protocol')

local M = {}

local health = vim.health

local function config()
  local ok, cfg = pcall(function()
    return vim.lsp.config.hearth
  end)
  return ok and cfg or nil
end

--- The command that prints the version: the server command up to `serve`, plus `--version`.
local function version_cmd(cmd)
  local out = {}
  for _, part in ipairs(cmd) do
    if part == 'serve' then
      break
    end
    out[#out + 1] = part
  end
  out[#out + 1] = '--version'
  return out
end

local function check_binary(cfg)
  health.start('hearth: server binary')
  local cmd = cfg and cfg.cmd
  if type(cmd) ~= 'table' then
    health.info('`cmd` is a function; skipping the binary check')
    return type(cmd) == 'function'
  end
  if vim.fn.executable(cmd[1]) == 0 then
    health.error(('`%s` not found'):format(cmd[1]), {
      "Install Hearth into a Python 3.11+ environment: `pip install hearth-lsp`, then put its `bin` on $PATH",
      "or point the plugin at it: `require('hearth').setup({ cmd = { '/path/to/venv/bin/hearth', 'serve' } })`",
    })
    return false
  end
  local res = vim.system(version_cmd(cmd), { text = true, env = cfg.cmd_env }):wait(10000)
  if res.code ~= 0 then
    health.error(('`%s` failed (exit %s): %s'):format(table.concat(version_cmd(cmd), ' '), res.code,
      vim.trim((res.stderr or '') .. (res.stdout or ''))), {
      'Reinstall Hearth in its virtual environment: `pip install --force-reinstall hearth-lsp`',
    })
    return false
  end
  health.ok(('%s (%s)'):format(vim.trim(res.stdout or ''), vim.fn.exepath(cmd[1])))
  return true
end

--- Whether a status has settled: the database opened (or failed) and every model probed.
local function settled(s)
  if type(s) ~= 'table' then
    return false
  end
  if vim.tbl_get(s, 'database', 'state') == 'starting' then
    return false
  end
  for _, m in pairs(s.models or {}) do
    if type(m) == 'table' and m.state == 'probing' then
      return false
    end
  end
  return true
end
M.settled = settled

--- How long to wait for the database to open and the models to answer their probe.
local SETTLE_MS = 15000

--- Start a throwaway server over stdio, initialize it and ask `hearth.status`.
---@return table? status, string? error
local function probe(cfg)
  local stderr = {}
  local exited
  local latest
  local rpc = vim.lsp.rpc.start(cfg.cmd, {
    notification = function(method, params)
      if method == protocol.methods.status then
        latest = params
      end
    end,
    server_request = function(method)
      if method == 'workspace/configuration' then
        return {}
      end
      return vim.NIL
    end,
    on_error = function() end,
    on_exit = function(code)
      exited = code
    end,
  }, { env = cfg.cmd_env, cwd = vim.fn.getcwd() })
  local function call(method, params, timeout)
    local done, err, result = false, nil, nil
    rpc.request(method, params, function(e, r)
      done, err, result = true, e, r
    end)
    if not vim.wait(timeout, function()
      return done or exited ~= nil
    end, 10) then
      return nil, ('no answer to %s within %d ms'):format(method, timeout)
    end
    if not done then
      return nil, ('the server exited (code %s) %s'):format(exited, table.concat(stderr))
    end
    if err then
      return nil, err.message or vim.inspect(err)
    end
    return result
  end
  local t0 = vim.uv.hrtime()
  local init, err = call('initialize', {
    processId = vim.fn.getpid(),
    rootUri = vim.uri_from_fname(vim.fn.getcwd()),
    workspaceFolders = vim.NIL,
    capabilities = vim.lsp.protocol.make_client_capabilities(),
    initializationOptions = cfg.init_options or vim.empty_dict(),
    clientInfo = { name = 'Neovim checkhealth' },
  }, 10000)
  if not init then
    rpc.terminate()
    return nil, err
  end
  local ms = (vim.uv.hrtime() - t0) / 1e6
  rpc.notify('initialized', vim.empty_dict())
  local name = init.serverInfo and (init.serverInfo.name .. ' ' .. (init.serverInfo.version or '')) or 'the server'
  health.ok(('%s answered initialize in %d ms'):format(vim.trim(name), ms))
  vim.wait(SETTLE_MS, function()
    return settled(latest) or exited ~= nil
  end, 10)
  local status
  status, err = call('workspace/executeCommand', { command = protocol.commands.status, arguments = {} }, 10000)
  call('shutdown', vim.NIL, 3000)
  rpc.notify('exit', vim.NIL)
  vim.wait(1000, function()
    return exited ~= nil
  end, 10)
  if not exited then
    rpc.terminate()
  end
  return status, err
end


local function report_database(s)
  health.start('hearth: database')
  local db = type(s.database) == 'table' and s.database or {}
  if db.state == 'ok' then
    health.ok('PostgreSQL reachable' .. ((db.detail and db.detail ~= '') and (' (' .. db.detail .. ')') or ''))
  elseif db.state == 'error' then
    health.error('database: ' .. (db.detail or 'unavailable'), {
      'Set `HEARTH_DATABASE_URL` (or `database.url` in setup({ settings = ... })) to a PostgreSQL with pgvector',
      'Run `hearth db` or `hearth doctor` in a terminal to see the full error',
    })
  else
    health.warn('database state: ' .. tostring(db.state or 'not reported'), {
      'The server did not finish opening the database in time; run `:checkhealth hearth` again',
    })
  end
end

local function report_models(s)
  health.start('hearth: models')
  for _, role in ipairs({ 'completion', 'chat' }) do
    local m = vim.tbl_get(s, 'models', role) or {}
    local what = vim.trim(('%s model %s'):format(role, m.model or ''))
    if m.state == 'ok' then
      health.ok(what .. ((m.mode and m.mode ~= '') and (' (' .. m.mode .. ')') or ''))
    elseif m.state == 'unset' then
      health.warn(role .. ' model not configured', {
        ('Set `HEARTH_%s_URL` (or `HEARTH_MODEL_URL`) or `models.%s.url` in setup({ settings = ... })'):format(
          role:upper(), role),
      })
    elseif m.state == 'probing' then
      health.warn(role .. ' model: still being checked', { 'Run `:checkhealth hearth` again in a few seconds' })
    else
      health.error(what .. ' is down' .. ((m.detail and m.detail ~= '') and (': ' .. m.detail) or ''), {
        'Start vLLM (see deploy/README.md) and check that the URL answers `curl <url>/models`',
        ('The URL comes from `HEARTH_%s_URL`, `HEARTH_MODEL_URL` or `models.%s.url`'):format(role:upper(), role),
      })
    end
  end
end

local function report_index(s)
  health.start('hearth: index')
  local index = type(s.index) == 'table' and s.index or {}
  local counts = ('%s files, %s chunks, %s embedded, %s pending'):format(
    index.files or 0, index.chunks or 0, index.embedded or 0, index.pending or 0)
  if index.state == 'idle' then
    health.ok('up to date: ' .. counts)
  elseif index.state == 'indexing' or index.state == 'embedding' or index.state == 'starting' then
    health.info(('%s (%s/%s files): %s'):format(index.state, index.done or 0, index.total or '?', counts))
  elseif index.state == 'disabled' then
    health.warn('no workspace folder to index', {
      'Open Neovim in a repository: the root is found from .git, pyproject.toml, package.json, go.mod or Cargo.toml',
    })
  else
    health.error('index: ' .. (index.detail or s.message or tostring(index.state)), {
      'Check the database (above) and run `hearth index .` in the repository to see the full error',
    })
  end
  if (index.skipped or 0) > 0 then
    health.info(('%d files skipped (too large, binary or ignored by .hearthignore)'):format(index.skipped))
  end
end

local function report_status(s)
  report_database(s)
  report_models(s)
  report_index(s)
  health.start('hearth: overall')
  local report = ({ ok = health.ok, warning = health.warn, error = health.error })[s.health] or health.warn
  report(s.message or s.health or 'no message')
end

function M.check()
  local cfg = config()
  if not cfg then
    health.start('hearth')
    health.error('no `hearth` LSP configuration', {
      "Put editors/nvim on 'runtimepath' (or install the plugin) so that lsp/hearth.lua is found",
    })
    return
  end
  if not check_binary(cfg) then
    return
  end

  health.start('hearth: server')
  local running = vim.lsp.get_clients({ name = 'hearth' })[1]
  local status, err
  if running then
    health.ok(('running (client %d, root %s)'):format(running.id, running.root_dir or 'none'))
    vim.wait(SETTLE_MS, function()
      return settled(require('hearth.status').get().status)
    end, 10)
    local done = false
    running:request('workspace/executeCommand', { command = protocol.commands.status, arguments = {} },
      function(e, r)
        done, err, status = true, e and (e.message or vim.inspect(e)), r
      end)
    if not vim.wait(10000, function()
      return done
    end, 10) then
      err = 'no answer to hearth.status within 10 s'
    end
  else
    status, err = probe(cfg)
    if not status and not err then
      err = 'hearth.status returned nothing'
    end
  end
  if err or type(status) ~= 'table' then
    health.error('the server did not start or answer: ' .. tostring(err), {
      'Run `hearth serve` in a terminal: it prints the reason on stderr',
      'Check `:lua =vim.lsp.config.hearth.cmd` and the environment it runs with',
    })
    return
  end
  require('hearth.status').set(status)
  report_status(status)
end

return M
