--- `:Hearth {subcommand}`: explain, refactor, chat, index, status, trace.
local protocol = require('hearth.protocol')

local M = {}

local function notify(msg, level)
  vim.notify('Hearth: ' .. msg, level or vim.log.levels.INFO)
end

local function client_or_warn(bufnr)
  local client = require('hearth').client(bufnr)
  if not client then
    notify('the server is not running for this buffer (see :checkhealth hearth)', vim.log.levels.ERROR)
  end
  return client
end

local function character(bufnr, row, col, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  return vim.str_utfindex(line, encoding, math.min(col, #line), false)
end

--- The LSP range of the command's line range, or of the word under the cursor, or of the line.
---@param args table the user command's arguments
---@param encoding string
---@return table range
function M.target_range(args, encoding)
  local bufnr = vim.api.nvim_get_current_buf()
  if args.range and args.range > 0 then
    local last = vim.api.nvim_buf_get_lines(bufnr, args.line2 - 1, args.line2, false)[1] or ''
    return {
      start = { line = args.line1 - 1, character = 0 },
      ['end'] = { line = args.line2 - 1, character = character(bufnr, args.line2 - 1, #last, encoding) },
    }
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  row = row - 1
  local line = vim.api.nvim_get_current_line()
  local s, e = col + 1, col
  while s > 1 and line:sub(s - 1, s - 1):match('[%w_]') do
    s = s - 1
  end
  while e < #line and line:sub(e + 1, e + 1):match('[%w_]') do
    e = e + 1
  end
  if e < s then
    s, e = 1, #line
  end
  return {
    start = { line = row, character = character(bufnr, row, s - 1, encoding) },
    ['end'] = { line = row, character = character(bufnr, row, e, encoding) },
  }
end

local function describe(args, range)
  local name = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(0), ':.')
  return ('%s:%d-%d'):format(name, range.start.line + 1, range['end'].line + 1)
end

---@type table<string, fun(args: table, rest: string)>
local subcommands = {}

function subcommands.explain(args)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_warn(bufnr)
  if not client then
    return
  end
  local range = M.target_range(args, client.offset_encoding)
  require('hearth.chat').send(client, {
    message = '/explain',
    uri = vim.uri_from_bufnr(bufnr),
    range = range,
  }, { title = 'Explain ' .. describe(args, range), new = true })
end

function subcommands.chat(args, rest)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_warn(bufnr)
  if not client then
    return
  end
  local in_chat = vim.bo[bufnr].buftype ~= ''
  local function send(message)
    if not message or message == '' then
      return
    end
    local params = { message = message }
    if not in_chat then
      params.uri = vim.uri_from_bufnr(bufnr)
      if args.range and args.range > 0 then
        params.range = M.target_range(args, client.offset_encoding)
      end
    end
    require('hearth.chat').send(client, params)
  end
  if rest ~= '' then
    send(rest)
  else
    vim.ui.input({ prompt = 'Hearth chat: ' }, send)
  end
end

function subcommands.refactor(args, rest)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_warn(bufnr)
  if not client then
    return
  end
  local range = M.target_range(args, client.offset_encoding)
  local function run(instruction)
    if not instruction or instruction == '' then
      return
    end
    M.refactor(client, bufnr, { uri = vim.uri_from_bufnr(bufnr), range = range, instruction = instruction })
  end
  if rest ~= '' then
    run(rest)
  else
    vim.ui.input({ prompt = 'Hearth refactor (' .. describe(args, range) .. '): ' }, run)
  end
end

--- Send `hearth.refactor` (the server applies the edit with workspace/applyEdit) and report.
--- A request, not `client:exec_cmd`, which would run the client-side handler below again.
---@param client vim.lsp.Client
---@param bufnr integer
---@param arg table `{uri, range, instruction?, action?, diagnostic?}`
function M.refactor(client, bufnr, arg)
  client:request(protocol.lsp.execute_command, { command = protocol.commands.refactor, arguments = { arg } },
    function(err, result)
      if err then
        notify('refactor failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      elseif type(result) == 'table' then
        notify(result.message or (result.applied and 'applied' or 'not applied'),
          result.applied and vim.log.levels.INFO or vim.log.levels.WARN)
      end
    end, bufnr)
end

--- Client-side handlers of the server's commands that need the editor (`vim.lsp.Config.commands`):
--- the code actions "Hearth: Explain" and "Hearth: Refactor…" arrive as these commands.
M.client_commands = {
  --- Explain the action's range in the chat buffer (streamed), instead of a result nobody sees.
  [protocol.commands.explain] = function(command, ctx)
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    local arg = (command.arguments or {})[1] or {}
    if not client or not arg.uri then
      return
    end
    local name = vim.fn.fnamemodify(vim.uri_to_fname(arg.uri), ':.')
    local r = arg.range or { start = { line = 0 }, ['end'] = { line = 0 } }
    require('hearth.chat').send(client, { message = '/explain', uri = arg.uri, range = arg.range },
      { title = ('Explain %s:%d-%d'):format(name, r.start.line + 1, r['end'].line + 1), new = true })
  end,
  --- Refactor: ask for the instruction when the action has none, then send it to the server.
  [protocol.commands.refactor] = function(command, ctx)
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    local arg = vim.deepcopy((command.arguments or {})[1] or {})
    if not client or not arg.uri then
      return
    end
    local bufnr = ctx.bufnr or vim.uri_to_bufnr(arg.uri)
    if arg.instruction or arg.action then
      return M.refactor(client, bufnr, arg)
    end
    vim.ui.input({ prompt = 'Hearth refactor: ' }, function(instruction)
      if instruction and instruction ~= '' then
        arg.instruction = instruction
        M.refactor(client, bufnr, arg)
      end
    end)
  end,
}

function subcommands.index(_, rest)
  local client = client_or_warn()
  if not client then
    return
  end
  client:exec_cmd({
    title = 'Hearth: reindex',
    command = protocol.commands.reindex,
    arguments = { { full = rest == 'full' } },
  }, {}, function(err, result)
    if err then
      notify('reindex failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    else
      notify((type(result) == 'table' and result.started) and 'indexing started' or 'indexing already running')
    end
  end)
end

--- Status as readable lines.
---@param s table a `hearth/status` object
---@return string[]
function M.format_status(s)
  local lines = { ('health: %s%s'):format(s.health or '?', s.quiescent == false and ' (busy)' or '') }
  if s.message then
    lines[#lines + 1] = s.message
  end
  local i = s.index
  if type(i) == 'table' then
    local parts = {}
    for _, k in ipairs({ 'files', 'chunks', 'pending', 'embedded', 'skipped' }) do
      if i[k] then
        parts[#parts + 1] = ('%s %s'):format(i[k], k)
      end
    end
    local progress = (i.total or 0) > 0 and (' %d/%d'):format(i.done or 0, i.total) or ''
    lines[#lines + 1] = ('index: %s%s%s'):format(i.state or '?', progress,
      #parts > 0 and (', ' .. table.concat(parts, ', ')) or '')
  end
  local db = s.database
  if type(db) == 'table' then
    lines[#lines + 1] = ('database: %s%s'):format(db.state or '?', (db.detail and db.detail ~= '') and (' (' .. db.detail .. ')') or '')
  end
  for _, role in ipairs({ 'completion', 'chat' }) do
    local m = vim.tbl_get(s, 'models', role)
    if m then
      lines[#lines + 1] = ('%s model: %s %s%s%s'):format(role, m.state or '?', m.model or '',
        m.mode and (' (' .. m.mode .. ')') or '', (m.detail and m.detail ~= '') and (': ' .. m.detail) or '')
    end
  end
  return lines
end

function subcommands.status()
  local status = require('hearth.status')
  local client = require('hearth').client()
  local function show()
    local s = status.get().status
    if not s then
      notify('no status yet' .. (client and '' or ' (the server is not running; see :checkhealth hearth)'))
      return
    end
    vim.notify(table.concat(M.format_status(s), '\n'), vim.log.levels.INFO, { title = 'Hearth' })
  end
  if not client then
    return show()
  end
  client:exec_cmd({ title = 'Hearth: status', command = protocol.commands.status, arguments = {} }, {},
    function(err, result)
      if not err then
        status.set(result)
      end
      show()
    end)
end

--- Trace as markdown lines; sources as `path:start-end` lines.
---@param t table a `hearth/trace` result
---@return string[]
function M.format_trace(t)
  local lines = { ('# Completion %s: %s'):format(t.id or '?', t.outcome or '?'), '' }
  if t.uri then
    local p = t.position or {}
    lines[#lines + 1] = ('%s at %d:%d'):format(vim.uri_to_fname(t.uri), (p.line or 0) + 1, (p.character or 0) + 1)
    lines[#lines + 1] = ''
  end
  local stages = t.stages or {}
  local order = { 'context_ms', 'prompt_ms', 'model_ms', 'postprocess_ms', 'total_ms' }
  for _, k in ipairs(order) do
    if stages[k] then
      lines[#lines + 1] = ('- %s: %.1f'):format(k, stages[k])
    end
  end
  lines[#lines + 1] = ''
  lines[#lines + 1] = '## Context'
  lines[#lines + 1] = ''
  for _, c in ipairs(t.context or {}) do
    lines[#lines + 1] = ('%s:%d-%d'):format(c.path, c.start_line, c.end_line)
    lines[#lines + 1] = ('  %s, score %.2f%s'):format(c.source or '?', c.score or 0, c.used and '' or ', not used')
  end
  for _, part in ipairs({ { 'Prompt', t.prompt }, { 'Raw', t.raw }, { 'Text', t.text } }) do
    if part[2] then
      lines[#lines + 1] = ''
      lines[#lines + 1] = '## ' .. part[1]
      lines[#lines + 1] = ''
      lines[#lines + 1] = '```'
      vim.list_extend(lines, vim.split(part[2], '\n', { plain = true }))
      lines[#lines + 1] = '```'
    end
  end
  return lines
end

function subcommands.trace()
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_warn(bufnr)
  if not client then
    return
  end
  local params = vim.bo[bufnr].buftype == '' and { uri = vim.uri_from_bufnr(bufnr) } or {}
  client:request(protocol.methods.trace, params, function(err, result)
    if err then
      notify('trace failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    if type(result) ~= 'table' then
      notify('no completion traced yet')
      return
    end
    local chat = require('hearth.chat')
    local tbuf = vim.fn.bufnr('hearth://trace')
    if tbuf == -1 then
      tbuf = vim.api.nvim_create_buf(false, true)
      vim.api.nvim_buf_set_name(tbuf, 'hearth://trace')
      vim.bo[tbuf].bufhidden = 'hide'
      vim.bo[tbuf].filetype = 'markdown'
    end
    chat.source_keys(tbuf, client)
    vim.api.nvim_buf_set_lines(tbuf, 0, -1, false, M.format_trace(result))
    vim.fn.win_gotoid(chat.show(tbuf))
  end, bufnr)
end

M.subcommands = subcommands

--- Run `:Hearth {args}`.
---@param args table user command arguments
function M.run(args)
  local name, rest = (args.args or ''):match('^%s*(%S*)%s*(.-)%s*$')
  local fn = subcommands[name]
  if not fn then
    notify(('unknown subcommand %q; one of: %s'):format(name, table.concat(M.names(), ', ')), vim.log.levels.ERROR)
    return
  end
  fn(args, rest)
end

---@return string[]
function M.names()
  return { 'explain', 'refactor', 'chat', 'index', 'status', 'trace' }
end

--- Completion of `:Hearth`.
function M.complete(arglead, cmdline)
  local words = vim.split(cmdline:gsub('^%s*%S*%s*', ''), '%s+', { trimempty = false })
  if #words <= 1 then
    return vim.tbl_filter(function(n)
      return vim.startswith(n, arglead)
    end, M.names())
  end
  if words[1] == 'index' and #words == 2 then
    return vim.startswith('full', arglead) and { 'full' } or {}
  end
  return {}
end

return M
