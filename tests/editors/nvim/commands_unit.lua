--- :Hearth subcommands against the in-process stub: explain and chat stream into the chat buffer
--- with the partialResultToken they pass, refactor asks with vim.ui.input and runs hearth.refactor,
--- index runs hearth.reindex, status asks hearth.status, trace fills a buffer whose sources open.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local S = T.stub()
T.setup({ cmd = S.cmd, inline = { enabled = false }, chat = { position = 'below' } })
local r = T.result

local chats = 0
S.handlers['hearth/chat'] = function(params, dispatchers)
  chats = chats + 1
  -- Streamed before the answer; the answer's text only matters when nothing streamed.
  for _, d in ipairs({ 'Adds ', 'two ', 'numbers.\n', 'Done.' }) do
    dispatchers.notification('$/progress', { token = params.partialResultToken, value = { delta = d } })
  end
  return {
    conversationId = 'conv-' .. chats,
    text = 'Adds two numbers.\nDone.',
    sources = {
      { uri = vim.uri_from_fname(vim.fs.joinpath(T.workspace, 'util.py')), path = 'util.py', start_line = 3,
        end_line = 4, score = 0.8, source = 'hybrid' },
    },
  }
end
S.delay_ms['hearth/chat'] = 40
S.handlers['hearth/trace'] = function(params)
  return {
    id = 'c-17', uri = params.uri, position = { line = 2, character = 4 },
    stages = { context_ms = 3.1, model_ms = 182.0, total_ms = 186.0 },
    context = { { path = 'util.py', start_line = 3, end_line = 4, score = 0.82, source = 'definition', used = true } },
    prompt = '<|fim_prefix|>x = ', raw = '1', text = '1', outcome = 'shown',
  }
end
local status = { health = 'warning', quiescent = false, message = 'Indexing', index = { state = 'indexing', done = 3, total = 12, pending = 4 },
  database = { state = 'ok', detail = 'pgvector 0.8.0' } }
S.handlers['workspace/executeCommand'] = function(params)
  S.commands[#S.commands + 1] = params
  if params.command == 'hearth.status' then
    return status
  elseif params.command == 'hearth.reindex' then
    return { started = true }
  elseif params.command == 'hearth.refactor' then
    return { applied = true, message = 'renamed' }
  end
  return vim.NIL
end

local done = 0
vim.api.nvim_create_autocmd('User', {
  pattern = 'HearthChatDone',
  callback = function()
    done = done + 1
  end,
})
local notes = {}
vim.notify = function(msg, level)
  notes[#notes + 1] = { msg = msg, level = level }
end

T.run(function()
  local bufnr = T.open('calc.py')
  local uri = vim.uri_from_bufnr(bufnr)

  -- Explain a line range: a new conversation, streamed.
  vim.cmd('1,2Hearth explain')
  local chat = vim.fn.bufnr('hearth://chat')
  local seen = {}
  vim.api.nvim_buf_attach(chat, false, {
    on_lines = function()
      seen[#seen + 1] = true
    end,
  })
  T.wait(3000, function()
    return done == 1
  end, 'the explanation')
  local req = S.sent('hearth/chat')[1].params
  r.explain_params = { message = req.message, uri = req.uri == uri, range = req.range, token = req.partialResultToken ~= nil }
  r.chat_lines = vim.api.nvim_buf_get_lines(chat, 0, -1, false)
  r.stream_updates = #seen
  r.chat_win = vim.fn.bufwinid(chat) ~= -1
  r.chat_filetype = vim.bo[chat].filetype

  -- A follow-up question continues the conversation.
  vim.cmd('Hearth chat and then?')
  T.wait(3000, function()
    return done == 2
  end, 'the chat answer')
  local req2 = S.sent('hearth/chat')[2].params
  r.chat_params = { message = req2.message, conversationId = req2.conversationId, token = req2.partialResultToken }
  r.tokens_differ = req.partialResultToken ~= req2.partialResultToken

  -- Refactor asks for the instruction.
  vim.ui.input = function(opts, on_confirm)
    r.refactor_prompt = opts.prompt
    on_confirm('rename x to total')
  end
  vim.api.nvim_set_current_buf(bufnr)
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  vim.cmd('Hearth refactor')
  vim.cmd('Hearth index')
  vim.cmd('Hearth status')
  T.wait(3000, function()
    return #notes >= 3
  end, 'notifications')
  r.commands = S.commands
  r.notes = notes
  r.statusline = require('hearth').statusline()

  -- Trace opens in a buffer; <CR> on a context line opens it.
  vim.cmd('Hearth trace')
  T.wait(3000, function()
    return vim.fn.bufnr('hearth://trace') ~= -1 and vim.api.nvim_get_current_buf() == vim.fn.bufnr('hearth://trace')
  end, 'the trace buffer')
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  r.trace_lines = lines
  for i, l in ipairs(lines) do
    if l == 'util.py:3-4' then
      vim.api.nvim_win_set_cursor(0, { i, 0 })
    end
  end
  T.feed('<CR>')
  r.opened = vim.fs.basename(vim.api.nvim_buf_get_name(0))
  r.opened_line = vim.api.nvim_win_get_cursor(0)[1]

  vim.cmd('Hearth bogus')
  r.unknown = notes[#notes]
end)
