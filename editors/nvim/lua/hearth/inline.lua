--- Inline completion (ghost text).
---
--- On Neovim 0.12+ the native `vim.lsp.inline_completion` is used when it exists. On 0.11 Hearth
--- draws its own: after a debounce on TextChangedI/CursorMovedI it asks the server
--- `textDocument/inlineCompletion`, shows the first item with extmarks (`virt_text` for the rest
--- of the current line, `virt_lines` for the following lines), and clears it when the cursor
--- moves away, on InsertLeave and on BufLeave. Typing the suggested characters keeps it shown.
local protocol = require('hearth.protocol')

local M = {}

local ns = vim.api.nvim_create_namespace('hearth.inline')

---@class hearth.InlineItem
---@field raw table the server's InlineCompletionItem
---@field text string insertText
---@field prefix string text of the item's range before the request position (already typed)
---@field body string text after `prefix`: what the request position still lacks
---@field replaced string text from the request position to the range end (replaced on accept)

---@class hearth.InlineBuffer
---@field client_id integer
---@field opts table
---@field timer uv.uv_timer_t
---@field request_id? integer
---@field origin? {[1]: integer, [2]: integer} 0-based row and byte column of the request
---@field items? hearth.InlineItem[]
---@field index integer
---@field pos? {[1]: integer, [2]: integer} cursor when the suggestion was last drawn
---@field tick? integer b:changedtick when the suggestion was last drawn

---@type table<integer, hearth.InlineBuffer>
local buffers = {}

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function in_insert()
  return vim.api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function client_of(st)
  return st and vim.lsp.get_client_by_id(st.client_id)
end

--- Byte column of an LSP position's `character` on `row`.
local function byte_col(bufnr, row, character, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  return vim.str_byteindex(line, encoding, character, false)
end

local function get_text(bufnr, srow, scol, erow, ecol)
  if erow < srow or (erow == srow and ecol <= scol) then
    return ''
  end
  return table.concat(vim.api.nvim_buf_get_text(bufnr, srow, scol, erow, ecol, {}), '\n')
end

--- insertText as plain text (snippet placeholders reduced to their text).
local function insert_text(item)
  local t = item.insertText
  if type(t) == 'table' then
    t = (t.value or ''):gsub('%${%d+:([^}]*)}', '%1'):gsub('%$%d+', '')
  end
  return type(t) == 'string' and t or ''
end

--- Turn server items into items relative to the request position; drops unusable ones.
---@return hearth.InlineItem[]
local function prepare(bufnr, raw_items, origin, encoding)
  local items = {}
  local row, col = origin[1], origin[2]
  for _, raw in ipairs(raw_items) do
    local text = insert_text(raw)
    local srow, scol, erow, ecol = row, col, row, col
    if raw.range then
      srow = raw.range.start.line
      scol = byte_col(bufnr, srow, raw.range.start.character, encoding)
      erow = raw.range['end'].line
      ecol = byte_col(bufnr, erow, raw.range['end'].character, encoding)
    end
    local prefix = get_text(bufnr, srow, scol, row, col)
    local replaced = get_text(bufnr, row, col, erow, ecol)
    if vim.startswith(text, prefix) and #text > #prefix then
      items[#items + 1] = {
        raw = raw,
        text = text,
        prefix = prefix,
        body = text:sub(#prefix + 1),
        replaced = replaced,
      }
    end
  end
  return items
end

--- The shown item and what of it is still to insert at the cursor, or nil when the text typed
--- since the request no longer matches it.
---@return hearth.InlineItem?, string?, string?
local function current(bufnr)
  local st = buffers[bufnr]
  if not (st and st.items and st.items[st.index]) then
    return nil
  end
  local item = st.items[st.index]
  local row, col = cursor()
  local origin = st.origin
  if row < origin[1] or (row == origin[1] and col < origin[2]) then
    return nil
  end
  local typed = get_text(bufnr, origin[1], origin[2], row, col)
  if not vim.startswith(item.body, typed) or #item.body == #typed then
    return nil
  end
  return item, item.body:sub(#typed + 1), typed
end

local function undraw(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

local function draw(bufnr)
  local st = buffers[bufnr]
  local item, display = current(bufnr)
  undraw(bufnr)
  if not item or not display then
    return false
  end
  local row, col = cursor()
  local hl = st.opts.hl_group
  local tab = string.rep(' ', vim.bo[bufnr].tabstop)
  local lines = vim.split((display:gsub('\t', tab)), '\n', { plain = true })
  local after = (vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''):sub(col + 1)
  local replaced_first = vim.split(item.replaced, '\n', { plain = true })[1]
  local opts = { hl_mode = 'combine', priority = 1000 }
  local first = lines[1]
  if after == '' or (replaced_first ~= '' and vim.startswith(after, replaced_first) and #replaced_first == #after) then
    -- The rest of the line is empty or replaced by the suggestion: draw over it.
    local pad = vim.fn.strdisplaywidth(after) - vim.fn.strdisplaywidth(first)
    opts.virt_text_pos = 'overlay'
    opts.virt_text = { { first .. string.rep(' ', math.max(pad, 0)), hl } }
  else
    opts.virt_text_pos = 'inline'
    opts.virt_text = { { first, hl } }
  end
  if first == '' and opts.virt_text_pos == 'inline' then
    opts.virt_text = nil
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      opts.virt_lines[#opts.virt_lines + 1] = { { lines[i], hl } }
    end
  end
  vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, opts)
  st.pos = { row, col }
  st.tick = vim.b[bufnr].changedtick
  return true
end

local function cancel(st)
  st.timer:stop()
  local client = client_of(st)
  if st.request_id and client then
    client:cancel_request(st.request_id)
  end
  st.request_id = nil
end

--- Remove the suggestion of `bufnr` (default: current buffer) and cancel pending requests.
---@param bufnr? integer
function M.clear(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = buffers[bufnr]
  if not st then
    return
  end
  cancel(st)
  st.items, st.origin, st.pos, st.tick, st.index = nil, nil, nil, nil, 1
  undraw(bufnr)
end

--- Whether a suggestion is shown in `bufnr` (default: current buffer).
---@param bufnr? integer
---@return boolean
function M.visible(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local st = buffers[bufnr]
  return st ~= nil and st.pos ~= nil and current(bufnr) ~= nil
end

--- Ask the server for suggestions at the cursor now.
---@param trigger_kind? integer `InlineCompletionTriggerKind` (default: invoked)
function M.request(trigger_kind)
  local bufnr = vim.api.nvim_get_current_buf()
  local st = buffers[bufnr]
  local client = client_of(st)
  if not client or not in_insert() then
    return
  end
  cancel(st)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  ---@cast params table
  params.context = { triggerKind = trigger_kind or protocol.trigger_kind.invoked }
  local tick = vim.b[bufnr].changedtick
  local row, col = cursor()
  local this = {}
  local ok, id = client:request(protocol.lsp.inline_completion, params, function(err, result)
    if this.id ~= st.request_id then
      return
    end
    st.request_id = nil
    if err or not result then
      return
    end
    local r, c = cursor()
    if vim.api.nvim_get_current_buf() ~= bufnr or vim.b[bufnr].changedtick ~= tick or r ~= row or c ~= col then
      return
    end
    if not in_insert() then
      return
    end
    local items = prepare(bufnr, result.items or result, { row, col }, client.offset_encoding)
    if #items == 0 then
      return
    end
    st.origin, st.items, st.index = { row, col }, items, 1
    draw(bufnr)
  end, bufnr)
  if ok then
    this.id, st.request_id = id, id
  end
end

local function debounce(bufnr)
  local st = buffers[bufnr]
  cancel(st)
  st.timer:start(
    st.opts.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if vim.api.nvim_get_current_buf() == bufnr and buffers[bufnr] then
        M.request(protocol.trigger_kind.automatic)
      end
    end)
  )
end

--- TextChangedI / CursorMovedI: keep the suggestion while the user types it, else clear it and
--- ask again after the debounce.
local function on_edit(bufnr)
  local st = buffers[bufnr]
  if st.items then
    local row, col = cursor()
    local tick = vim.b[bufnr].changedtick
    local moved = not st.pos or row ~= st.pos[1] or col ~= st.pos[2]
    if not moved and tick == st.tick then
      return
    end
    if tick ~= st.tick and draw(bufnr) then
      return
    end
    M.clear(bufnr)
  end
  debounce(bufnr)
end

local function exec(bufnr, command)
  local client = client_of(buffers[bufnr])
  if client and command then
    client:exec_cmd(command, { bufnr = bufnr })
  end
end

local function word_of(display)
  return display:match('^[ \t]*[%w_]+') or display:match('^[ \t]*[^%w_%s]+') or display:match('^%s+') or display
end

local function line_of(display)
  return display:match('^\n?[^\n]*')
end

--- Insert the suggestion (or its next word or line) and tell the server.
---@param what? 'word'|'line' nil: all of it
---@return boolean accepted
function M.accept(what)
  local bufnr = vim.api.nvim_get_current_buf()
  local st = buffers[bufnr]
  local item, display, typed = current(bufnr)
  if not (st and item and display and typed) then
    return false
  end
  local part = display
  if what == 'word' then
    part = word_of(display)
  elseif what == 'line' then
    part = line_of(display)
  end
  local full = part == display
  local row, col = cursor()
  local erow, ecol = row, col
  if full and item.replaced ~= '' then
    local r = vim.split(item.replaced, '\n', { plain = true })
    local e_row = row + #r - 1
    local e_col = (#r == 1 and col or 0) + #r[#r]
    if get_text(bufnr, row, col, e_row, e_col) == item.replaced then
      erow, ecol = e_row, e_col
    end
  end
  local lines = vim.split(part, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, erow, ecol, lines)
  local new_row = row + #lines - 1
  local new_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { new_row + 1, new_col })
  local command = item.raw.command
  if full then
    M.clear(bufnr)
    exec(bufnr, command)
  else
    draw(bufnr)
    if command and type((command.arguments or {})[1]) == 'table' then
      command = vim.deepcopy(command)
      local consumed = #item.prefix + #typed + #part
      command.arguments[1].acceptedChars = vim.fn.strchars(item.text:sub(1, consumed))
      exec(bufnr, command)
    end
  end
  return true
end

function M.accept_word()
  return M.accept('word')
end

function M.accept_line()
  return M.accept('line')
end

local function cycle(delta)
  local bufnr = vim.api.nvim_get_current_buf()
  local st = buffers[bufnr]
  if not st then
    return
  end
  if not M.visible(bufnr) then
    M.request(protocol.trigger_kind.invoked)
    return
  end
  local n = #st.items
  local start = st.index
  for _ = 1, n - 1 do
    st.index = (st.index - 1 + delta) % n + 1
    if current(bufnr) then
      draw(bufnr)
      return
    end
  end
  st.index = start
end

--- Show the next suggestion (or ask for one when none shows).
function M.next()
  cycle(1)
end

--- Show the previous suggestion.
function M.prev()
  cycle(-1)
end

--- Hide the suggestion and tell the server it was dismissed.
function M.dismiss()
  local bufnr = vim.api.nvim_get_current_buf()
  local item = current(bufnr)
  M.clear(bufnr)
  if item and item.raw.command then
    local arg = (item.raw.command.arguments or {})[1]
    if type(arg) == 'table' and arg.id then
      exec(bufnr, { title = 'dismiss', command = protocol.commands.dismiss_completion, arguments = { { id = arg.id } } })
    end
  end
end

--- Keys that were mapped before ours, to fall through to when no suggestion shows.
local function fallback(lhs, prev)
  if prev and prev.lhs and not (prev.desc or ''):find('^Hearth') then
    if prev.callback then
      local keys = prev.callback()
      return prev.expr == 1 and keys or ''
    end
    if prev.expr == 1 then
      return vim.api.nvim_eval(prev.rhs)
    end
    if prev.noremap == 0 then
      vim.api.nvim_feedkeys(vim.keycode(prev.rhs), 'm', true)
      return ''
    end
    return prev.rhs
  end
  return lhs
end

local function set_keymaps(bufnr, keymaps, actions)
  for name, fn_name in pairs(actions) do
    local lhs_list = keymaps[name]
    if type(lhs_list) == 'string' then
      lhs_list = { lhs_list }
    end
    for _, lhs in ipairs(lhs_list or {}) do
      local prev = vim.fn.maparg(lhs, 'i', false, true)
      vim.keymap.set('i', lhs, function()
        if fn_name.always or M.active(bufnr) then
          return ('<Cmd>lua require("hearth.inline").%s()<CR>'):format(fn_name[1])
        end
        return fallback(lhs, prev)
      end, { buffer = bufnr, expr = true, desc = 'Hearth: ' .. name:gsub('_', ' ') })
    end
  end
end

--- Whether a suggestion shows in `bufnr`, natively or drawn by Hearth.
---@param bufnr integer
function M.active(bufnr)
  if buffers[bufnr] and buffers[bufnr].native then
    return true
  end
  return M.visible(bufnr)
end

local function attach_native(client, bufnr, opts)
  local ic = vim.lsp.inline_completion
  local ok = pcall(ic.enable, true, { bufnr = bufnr, client_id = client.id })
  if not ok then
    return false
  end
  buffers[bufnr] = { native = true, client_id = client.id, opts = opts }
  local km = opts.keymaps
  local function map(name, fn)
    local lhs_list = type(km[name]) == 'string' and { km[name] } or km[name] or {}
    for _, lhs in ipairs(lhs_list) do
      local prev = vim.fn.maparg(lhs, 'i', false, true)
      vim.keymap.set('i', lhs, function()
        if fn() then
          return ''
        end
        return fallback(lhs, prev)
      end, { buffer = bufnr, expr = true, desc = 'Hearth: ' .. name:gsub('_', ' ') })
    end
  end
  map('accept', function()
    return ic.get({ bufnr = bufnr })
  end)
  map('next', function()
    ic.select({ bufnr = bufnr, count = 1 })
    return true
  end)
  map('prev', function()
    ic.select({ bufnr = bufnr, count = -1 })
    return true
  end)
  return true
end

--- Start inline completion in `bufnr` for `client`.
---@param client vim.lsp.Client
---@param bufnr integer
---@param opts table the `inline` options
function M.attach(client, bufnr, opts)
  if buffers[bufnr] or not client.server_capabilities.inlineCompletionProvider then
    return
  end
  if opts.native and vim.lsp.inline_completion and attach_native(client, bufnr, opts) then
    return
  end
  buffers[bufnr] = { client_id = client.id, opts = opts, timer = assert(vim.uv.new_timer()), index = 1 }
  local group = vim.api.nvim_create_augroup('hearth.inline.' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_edit(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.clear(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ 'LspDetach', 'BufWipeout' }, {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      if ev.event == 'LspDetach' and ev.data and ev.data.client_id ~= client.id then
        return
      end
      M.detach(bufnr)
    end,
  })
  set_keymaps(bufnr, opts.keymaps, {
    accept = { 'accept' },
    accept_word = { 'accept_word' },
    accept_line = { 'accept_line' },
    next = { 'next', always = true },
    prev = { 'prev' },
    dismiss = { 'dismiss' },
  })
end

--- Stop inline completion in `bufnr`.
---@param bufnr integer
function M.detach(bufnr)
  local st = buffers[bufnr]
  if not st then
    return
  end
  if not st.native then
    M.clear(bufnr)
    st.timer:close()
    pcall(vim.api.nvim_del_augroup_by_name, 'hearth.inline.' .. bufnr)
  end
  buffers[bufnr] = nil
end

return M
