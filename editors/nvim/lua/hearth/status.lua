--- Server status for the statusline: the latest `hearth/status` and indexing `$/progress`.
local M = {}

---@class hearth.StatusState
---@field status? table the latest `hearth/status` (or `hearth.status` result)
---@field progress? {title: string?, message: string?, percentage: integer?} indexing in progress
local state = { status = nil, progress = nil }

--- Partial-result listeners keyed by token (chat and explain streams).
---@type table<string|integer, fun(value: any)>
local partial = {}

function M.get()
  return state
end

local function redraw()
  vim.schedule(function()
    vim.cmd.redrawstatus({ bang = true })
    vim.api.nvim_exec_autocmds('User', { pattern = 'HearthStatus', modeline = false })
  end)
end

--- Record a status object (from the notification or from the `hearth.status` command).
---@param status table
function M.set(status)
  if type(status) == 'table' then
    state.status = status
    redraw()
  end
end

--- Handler of the `hearth/status` notification.
function M.on_status(_, result, _)
  M.set(result)
end

--- Listen to `$/progress` values sent with `token` (a partialResultToken).
---@param token string|integer
---@param fn fun(value: any)|nil nil stops listening
function M.listen(token, fn)
  partial[token] = fn
end

--- Handler of `$/progress`: partial results go to their listener, work-done progress to
--- Neovim's own handler (so `LspProgress` and `vim.lsp.status()` still work) and the statusline.
function M.on_progress(err, params, ctx)
  local fn = params and partial[params.token]
  if fn then
    fn(params.value)
    return
  end
  local value = params and params.value
  if type(value) == 'table' and value.kind then
    if value.kind == 'end' then
      state.progress = nil
    else
      local prev = state.progress or {}
      state.progress = {
        title = value.title or prev.title,
        message = value.message or prev.message,
        percentage = value.percentage or prev.percentage,
      }
    end
    redraw()
  end
  return vim.lsp.handlers['$/progress'](err, params, ctx)
end

--- A short status string for the statusline, e.g. `H 412 files`, `H indexing 66%` (work-done
--- progress), `H indexing 12/40` or `H embedding 90/300` (the index state of `hearth/status`).
--- Empty when no Hearth client runs.
---@return string
function M.statusline()
  local icons = require('hearth').config.statusline.icons
  local s = state.status
  if not s then
    if #vim.lsp.get_clients({ name = 'hearth' }) == 0 then
      return ''
    end
    return icons.starting
  end
  local icon = icons[s.health] or icons.warning
  local p = state.progress
  if p then
    local text = 'indexing'
    if p.percentage then
      text = text .. ' ' .. p.percentage .. '%'
    elseif p.message then
      text = text .. ' ' .. p.message
    end
    return icon .. ' ' .. text
  end
  local index = s.index or {}
  if index.state == 'indexing' then
    if (index.total or 0) > 0 then
      return ('%s indexing %d/%d'):format(icon, index.done or 0, index.total)
    end
    return icon .. ' indexing'
  elseif index.state == 'embedding' then
    return ('%s embedding %d/%d'):format(icon, index.embedded or 0, index.chunks or 0)
  elseif index.state == 'starting' and s.health == 'ok' then
    return icons.starting
  end
  if s.health ~= 'ok' then
    local msg = s.message or s.health
    if #msg > 40 then
      msg = msg:sub(1, 39) .. '…'
    end
    return icon .. ' ' .. msg
  end
  if index.files then
    return ('%s %d files'):format(icon, index.files)
  end
  return icon
end

return M
