--- Hearth's custom protocol, declared once for the Neovim client.
---
--- Mirrors docs/protocol.md: every `hearth/...` method and `hearth.*` command that page names
--- is declared here, and nowhere else in this plugin is such a name spelled out.
local M = {}

--- Custom requests and notifications (`hearth/...`).
M.methods = {
  --- notification, server -> client: health, index and model state
  status = 'hearth/status',
  --- request: trace of the latest inline completion
  trace = 'hearth/trace',
  --- request: one chat turn, streamed through `$/progress` with the partialResultToken
  chat = 'hearth/chat',
  --- request: the stored conversations, newest first
  conversations = 'hearth/conversations',
}

--- Commands run with `workspace/executeCommand` (`hearth.*`).
M.commands = {
  accept_completion = 'hearth.acceptCompletion',
  dismiss_completion = 'hearth.dismissCompletion',
  reindex = 'hearth.reindex',
  explain = 'hearth.explain',
  refactor = 'hearth.refactor',
  status = 'hearth.status',
}

--- Standard LSP methods Hearth relies on (not Hearth's own, listed for readability).
M.lsp = {
  inline_completion = 'textDocument/inlineCompletion',
  execute_command = 'workspace/executeCommand',
  progress = '$/progress',
}

--- `InlineCompletionTriggerKind`
M.trigger_kind = { invoked = 1, automatic = 2 }

return M
