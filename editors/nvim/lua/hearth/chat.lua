--- The chat buffer: a markdown scratch split that streams `hearth/chat` answers and lists their
--- sources as `path:start-end` lines that open the location on <CR>.
local protocol = require('hearth.protocol')
local status = require('hearth.status')

local M = {}

local next_token = 0

---@class hearth.ChatState
---@field conversation_id? string
---@field request? {client_id: integer, id: integer}

---@type table<integer, hearth.ChatState>
local chats = {}

local function scratch(name, filetype)
  local bufnr = vim.fn.bufnr(name)
  if bufnr == -1 or not vim.api.nvim_buf_is_valid(bufnr) then
    bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, name)
  end
  vim.bo[bufnr].buftype = 'nofile'
  vim.bo[bufnr].bufhidden = 'hide'
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].filetype = filetype
  return bufnr
end

--- Show `bufnr` in a split (per the `chat` options) unless a window shows it already.
---@param bufnr integer
---@return integer win
function M.show(bufnr)
  local win = vim.fn.bufwinid(bufnr)
  if win ~= -1 then
    return win
  end
  local opts = require('hearth').config.chat
  local vertical = opts.position == 'right' or opts.position == 'left'
  local size = opts.size or math.floor((vertical and vim.o.columns or vim.o.lines) / 2)
  win = vim.api.nvim_open_win(bufnr, false, {
    split = opts.position,
    win = -1,
    width = vertical and size or nil,
    height = (not vertical) and size or nil,
  })
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  return win
end

--- Append `text` to the end of `bufnr` (continuing its last line), following it in any window
--- whose cursor sits on the last line.
---@param bufnr integer
---@param text string
function M.append(bufnr, text)
  if text == '' or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  local last = vim.api.nvim_buf_line_count(bufnr)
  local follow = {}
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    if vim.api.nvim_win_get_cursor(win)[1] == last then
      follow[#follow + 1] = win
    end
  end
  local last_line = vim.api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1] or ''
  vim.api.nvim_buf_set_text(bufnr, last - 1, #last_line, last - 1, #last_line, vim.split(text, '\n', { plain = true }))
  local count = vim.api.nvim_buf_line_count(bufnr)
  for _, win in ipairs(follow) do
    vim.api.nvim_win_set_cursor(win, { count, 0 })
  end
end

--- Parse a `path:start-end` line into the file and line range it names.
---@param line string
---@return string? path, integer? start_line, integer? end_line
function M.parse_source(line)
  local path, s, e = line:match('^%s*[-*]?%s*(.-):(%d+)%-(%d+)%s*$')
  if not path then
    path, s = line:match('^%s*[-*]?%s*(.-):(%d+)%s*$')
    e = s
  end
  if not path or path == '' then
    return nil
  end
  return path, tonumber(s), tonumber(e)
end

--- Directory that relative source paths of a buffer are relative to.
---@type table<integer, string>
local roots = {}

local function root_of(client)
  if client.root_dir then
    return client.root_dir
  end
  local folder = client.workspace_folders and client.workspace_folders[1]
  return folder and vim.uri_to_fname(folder.uri) or vim.fn.getcwd()
end

--- Open the `path:start-end` location on the cursor line in the previous window.
---@param bufnr? integer
---@return boolean opened
function M.open_source(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local path, s, e = M.parse_source(vim.api.nvim_get_current_line())
  if not path then
    return false
  end
  local sources = vim.b[bufnr].hearth_sources or {}
  local file = sources[path] or path
  if file:match('^%a+://') then
    file = vim.uri_to_fname(file)
  elseif not file:match('^/') then
    file = vim.fs.joinpath(roots[bufnr] or vim.fn.getcwd(), file)
  end
  vim.cmd.wincmd('p')
  if vim.api.nvim_get_current_buf() == bufnr then
    vim.cmd.split()
  end
  vim.cmd.edit(vim.fn.fnameescape(file))
  local last = vim.api.nvim_buf_line_count(0)
  s, e = math.min(s, last), math.min(e or s, last)
  vim.api.nvim_buf_set_mark(0, '<', s, 0, {})
  vim.api.nvim_buf_set_mark(0, '>', e, 0, {})
  vim.api.nvim_win_set_cursor(0, { s, 0 })
  vim.cmd('normal! zvzz')
  return true
end

--- Set the keys of a scratch buffer that lists sources: <CR> opens one, q closes the window.
---@param bufnr integer
---@param client vim.lsp.Client the client whose root relative paths start from
function M.source_keys(bufnr, client)
  roots[bufnr] = root_of(client)
  vim.keymap.set('n', '<CR>', function()
    M.open_source(bufnr)
  end, { buffer = bufnr, desc = 'Hearth: open the source under the cursor' })
  vim.keymap.set('n', 'q', '<Cmd>close<CR>', { buffer = bufnr, desc = 'Hearth: close' })
end

--- The chat buffer, created on first use.
---@param client vim.lsp.Client
---@return integer bufnr
function M.buffer(client)
  local bufnr = scratch('hearth://chat', 'markdown')
  M.source_keys(bufnr, client)
  if not chats[bufnr] then
    chats[bufnr] = {}
    vim.keymap.set('n', '<C-c>', function()
      M.cancel(bufnr)
    end, { buffer = bufnr, desc = 'Hearth: stop the answer' })
  end
  return bufnr
end

--- Stop the answer being written in `bufnr`.
---@param bufnr integer
function M.cancel(bufnr)
  local state = chats[bufnr]
  local req = state and state.request
  if req then
    local client = vim.lsp.get_client_by_id(req.client_id)
    if client then
      client:cancel_request(req.id)
    end
    state.request = nil
    M.append(bufnr, '\n\n_(stopped)_\n')
  end
end

--- Send one chat message (`hearth/chat`) and stream the answer into the chat buffer.
---@param client vim.lsp.Client
---@param params {message: string, uri?: string, range?: table, files?: string[]}
---@param opts? {title?: string, new?: boolean}
---@return integer bufnr
function M.send(client, params, opts)
  opts = opts or {}
  local bufnr = M.buffer(client)
  local state = chats[bufnr]
  if state.request then
    M.cancel(bufnr)
  end
  if opts.new then
    state.conversation_id = nil
  end
  next_token = next_token + 1
  local token = ('hearth-chat-%d-%d'):format(vim.fn.getpid(), next_token)
  local request = vim.tbl_extend('force', params, {
    conversationId = state.conversation_id,
    partialResultToken = token,
  })

  local empty = vim.api.nvim_buf_line_count(bufnr) == 1 and vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] == ''
  M.append(bufnr, (empty and '' or '\n\n') .. '## You\n\n' .. (opts.title or params.message) .. '\n\n## Hearth\n\n')
  M.show(bufnr)

  local streamed = false
  status.listen(token, function(value)
    if type(value) == 'table' and type(value.delta) == 'string' then
      streamed = true
      M.append(bufnr, value.delta)
    end
  end)

  local ok, id = client:request(protocol.methods.chat, request, function(err, result)
    status.listen(token, nil)
    state.request = nil
    vim.b[bufnr].hearth_busy = false
    if err then
      M.append(bufnr, '\n\n**Error:** ' .. (err.message or vim.inspect(err)) .. '\n')
      return
    end
    if type(result) ~= 'table' then
      return
    end
    state.conversation_id = result.conversationId or state.conversation_id
    if not streamed and type(result.text) == 'string' then
      M.append(bufnr, result.text)
    end
    local sources = result.sources or {}
    if #sources > 0 then
      local lines, files = { '', '', 'Sources:' }, vim.b[bufnr].hearth_sources or {}
      for _, src in ipairs(sources) do
        local path = src.path or vim.uri_to_fname(src.uri)
        lines[#lines + 1] = ('%s:%d-%d'):format(path, src.start_line, src.end_line)
        if src.uri then
          files[path] = vim.uri_to_fname(src.uri)
        end
      end
      vim.b[bufnr].hearth_sources = files
      M.append(bufnr, table.concat(lines, '\n'))
    end
    vim.api.nvim_exec_autocmds('User', { pattern = 'HearthChatDone', modeline = false, data = { bufnr = bufnr } })
  end)
  if ok then
    state.request = { client_id = client.id, id = id }
    vim.b[bufnr].hearth_busy = true
  else
    status.listen(token, nil)
    M.append(bufnr, '**Error:** the Hearth server is not running\n')
  end
  return bufnr
end

return M
