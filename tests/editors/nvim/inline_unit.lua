--- Hearth's own ghost text (Neovim 0.11) against the in-process stub server: drawing, typing
--- through, partial and full accept, cycling, dismiss, clearing, fall-through keys, UTF-16
--- columns, replaced suffixes, debounce and cancellation. Each check records into T.result.
local T = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local S = T.stub()
T.setup({ cmd = S.cmd, inline = { debounce_ms = 30 } })

local ACCEPT = 'hearth.acceptCompletion'
local DISMISS = 'hearth.dismissCompletion'

--- Items the stub answers with, keyed by the text before the cursor.
local answers = {}
S.handlers['textDocument/inlineCompletion'] = function(params)
  local line = vim.api.nvim_buf_get_lines(0, params.position.line, params.position.line + 1, false)[1] or ''
  local before = line:sub(1, vim.str_byteindex(line, 'utf-16', params.position.character, false))
  local make = answers[before]
  if not make then
    return { items = {} }
  end
  local items = {}
  for i, item in ipairs(make(params)) do
    item.command = { title = 'accept', command = ACCEPT, arguments = { { id = ('%s#%d'):format(before, i) } } }
    items[i] = item
  end
  return { items = items }
end

local function at(params)
  return { start = params.position, ['end'] = params.position }
end

answers['def add'] = function(p)
  return { { insertText = '(a, b):\n    return a + b', range = at(p) } }
end
answers['def sub'] = function(p)
  return {
    { insertText = '(a, b):\n    return a - b', range = at(p) },
    { insertText = '(x):\n    return -x', range = at(p) },
  }
end
-- The item's range starts before the cursor (covering typed non-ASCII text) and is in UTF-16.
answers['naïve = "ü'] = function(p)
  return {
    {
      insertText = 'naïve = "ü𝔘"',
      range = { start = { line = p.position.line, character = 0 }, ['end'] = p.position },
    },
  }
end
-- The item replaces the closing parenthesis after the cursor.
answers['print('] = function(p)
  local e = { line = p.position.line, character = p.position.character + 1 }
  return { { insertText = 'x)', range = { start = p.position, ['end'] = e } } }
end
answers['slow'] = function(p)
  return { { insertText = '_answer', range = at(p) } }
end

local function commands(name)
  return vim.tbl_filter(function(c)
    return c.command == name
  end, S.commands)
end

local function wait_ghost(bufnr, what)
  T.wait(3000, function()
    return T.ghost(bufnr) ~= nil
  end, what or 'ghost text')
  return T.ghost(bufnr)
end

T.run(function()
  local bufnr = T.open('calc.py')
  vim.bo[bufnr].autoindent = false
  local r = T.result

  -- Typing shows the first item: the rest of the line as overlay text, the next lines as virt_lines.
  T.feed('Godef add')
  local text, pos, details = wait_ghost(bufnr)
  r.ghost = text
  r.ghost_pos = pos
  r.ghost_pos_kind = details.virt_text_pos
  r.trigger_kind = S.sent('textDocument/inlineCompletion')[1].params.context.triggerKind

  -- Typing what the suggestion says keeps it, without asking again.
  local asked = #S.sent('textDocument/inlineCompletion')
  T.feed('(')
  vim.wait(100)
  r.type_through = T.ghost(bufnr)
  r.type_through_requests = #S.sent('textDocument/inlineCompletion') - asked

  -- Accept word, then line, then the rest (which ends the item).
  T.feed('<M-w>')
  r.after_word = vim.api.nvim_get_current_line()
  r.word_command = commands(ACCEPT)[1]
  r.ghost_after_word = T.ghost(bufnr)
  T.feed('<M-l>')
  r.after_line = vim.api.nvim_get_current_line()
  T.feed('<M-l>')
  r.after_full = vim.api.nvim_buf_get_lines(bufnr, 3, -1, false)
  r.accept_commands = commands(ACCEPT)
  r.cursor_after_full = vim.api.nvim_win_get_cursor(0)
  T.feed('<Esc>')

  -- Next and previous cycle the items; dismiss tells the server.
  T.feed('Godef sub')
  r.first = wait_ghost(bufnr)
  T.feed('<M-]>')
  r.second = T.ghost(bufnr)
  T.feed('<M-]>')
  r.wrapped = T.ghost(bufnr)
  T.feed('<M-[>')
  r.previous = T.ghost(bufnr)
  T.feed('<C-]>')
  r.after_dismiss = T.ghost(bufnr) or false
  r.dismiss_commands = commands(DISMISS)

  -- Moving the cursor clears it; so does leaving insert mode.
  T.feed('<BS>b')
  wait_ghost(bufnr, 'ghost text again')
  T.feed('<Left>')
  r.after_left = T.ghost(bufnr) or false
  T.feed('<End>')
  wait_ghost(bufnr, 'ghost text after <End>')
  T.feed('<Esc>')
  r.after_esc = T.ghost(bufnr) or false

  -- <Tab> with nothing shown inserts a tab.
  T.feed('Go<Tab>')
  r.tab_line = vim.api.nvim_get_current_line()
  T.feed('<Esc>')

  -- UTF-16 positions and ranges that start before the cursor.
  T.feed('Gonaïve = "ü')
  r.utf16_ghost = wait_ghost(bufnr)
  r.utf16_character = S.sent('textDocument/inlineCompletion')[#S.sent('textDocument/inlineCompletion')].params.position.character
  T.feed('<Tab>')
  r.utf16_line = vim.api.nvim_get_current_line()
  T.feed('<Esc>')

  -- A range that covers text after the cursor replaces it.
  T.feed('Goprint()<Left>')
  r.suffix_ghost = wait_ghost(bufnr)
  T.feed('<Tab>')
  r.suffix_line = vim.api.nvim_get_current_line()
  T.feed('<Esc>')

  -- Typing while a request is in flight cancels it; typing fast sends one request.
  S.delay_ms['textDocument/inlineCompletion'] = 300
  local before = #S.sent('textDocument/inlineCompletion')
  T.feed('Goslo')
  T.feed('w')
  vim.wait(60)
  local first = S.sent('textDocument/inlineCompletion')
  r.debounced_requests = #first - before
  T.feed('x')
  vim.wait(60)
  r.cancelled = vim.tbl_map(function(n)
    return n.params.id
  end, S.notified('$/cancelRequest'))
  r.in_flight_id = first[#first].id
  T.feed('<BS>')
  S.delay_ms['textDocument/inlineCompletion'] = nil
  T.feed('<Esc>')
end)
