--- An in-process language server for testing the client's own logic without a Python process:
--- passed as `cmd` (a function, as `vim.lsp.Config` allows). Scenarios script its answers in
--- `S.handlers[method] = function(params, dispatchers) return result, err end` and read what the
--- client sent in `S.requests`, `S.notifications` and `S.commands`.
local S = {
  requests = {},
  notifications = {},
  commands = {},
  --- Answer requests of these methods after this many milliseconds (default: next tick).
  delay_ms = {},
}

local capabilities = {
  textDocumentSync = { openClose = true, change = 2, save = true },
  inlineCompletionProvider = vim.empty_dict(),
  codeActionProvider = { resolveProvider = true },
  executeCommandProvider = {
    commands = { 'hearth.acceptCompletion', 'hearth.dismissCompletion', 'hearth.reindex', 'hearth.explain',
      'hearth.refactor', 'hearth.status' },
  },
}

S.handlers = {
  initialize = function()
    return { capabilities = capabilities, serverInfo = { name = 'stub', version = '0' } }
  end,
  shutdown = function()
    return vim.NIL
  end,
  ['workspace/executeCommand'] = function(params)
    S.commands[#S.commands + 1] = params
    return vim.NIL
  end,
}

--- Requests of `method` the client sent so far.
function S.sent(method)
  return vim.tbl_filter(function(r)
    return r.method == method
  end, S.requests)
end

--- Notifications of `method` the client sent so far.
function S.notified(method)
  return vim.tbl_filter(function(r)
    return r.method == method
  end, S.notifications)
end

function S.cmd(dispatchers)
  S.dispatchers = dispatchers
  local closing = false
  local next_id = 0
  local srv = {}
  function srv.request(method, params, callback, notify_reply_callback)
    next_id = next_id + 1
    local id = next_id
    S.requests[#S.requests + 1] = { id = id, method = method, params = params }
    local function answer()
      local handler = S.handlers[method]
      local result, err = vim.NIL, nil
      if handler then
        result, err = handler(params, dispatchers)
      end
      callback(err, result)
      if notify_reply_callback then
        notify_reply_callback(id)
      end
    end
    vim.defer_fn(answer, S.delay_ms[method] or 0)
    return true, id
  end
  function srv.notify(method, params)
    S.notifications[#S.notifications + 1] = { method = method, params = params }
    if method == 'exit' then
      closing = true
      dispatchers.on_exit(0, 0)
    end
    return true
  end
  function srv.is_closing()
    return closing
  end
  function srv.terminate()
    closing = true
  end
  return srv
end

return S
