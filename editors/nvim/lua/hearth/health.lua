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

--- Start a throwaway server over stdio, initialize it and ask `hearth.status`.
---@return table? status, string? error
local function probe(cfg)
  local stderr = {}
  local exited
  local rpc = vim.lsp.rpc.start(cfg.cmd, {
    notification = function() end,
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

local function report_status(s)
  health.start('hearth: database and index')
  local index = type(s.index) == 'table' and s.index or {}
  if index.state == 'error' then
    health.error('index: ' .. (s.message or 'error'), {
      'Check the database: `HEARTH_DATABASE_URL` or the `database.url` setting must name a PostgreSQL with pgvector',
      'Run `hearth serve` in a terminal to see the full error',
    })
  else
    health.ok(('database reachable; index %s: %s files, %s chunks, %s pending'):format(
      index.state or '?', index.files or 0, index.chunks or 0, index.pending or 0))
    if (index.skipped or 0) > 0 then
      health.info(('%d files skipped (too large, binary or ignored by .hearthignore)'):format(index.skipped))
    end
  end

  health.start('hearth: models')
  for _, role in ipairs({ 'completion', 'chat' }) do
    local m = vim.tbl_get(s, 'models', role) or {}
    local what = ('%s model %s'):format(role, m.model or '')
    if m.state == 'ok' then
      health.ok(vim.trim(what) .. (m.mode and (' (' .. m.mode .. ')') or ''))
    elseif m.state == 'unset' then
      health.warn(role .. ' model not configured', {
        ('Set `HEARTH_%s_URL` (or `HEARTH_MODEL_URL`) or `models.%s.url` in setup({ settings = ... })'):format(
          role:upper(), role),
      })
    else
      health.error(vim.trim(what) .. ' is down' .. ((m.detail and m.detail ~= '') and (': ' .. m.detail) or ''), {
        'Start vLLM (see deploy/README.md) and check that the URL answers `curl <url>/models`',
        ('The URL comes from `HEARTH_%s_URL`, `HEARTH_MODEL_URL` or `models.%s.url`'):format(role:upper(), role),
      })
    end
  end

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
