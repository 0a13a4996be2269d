"""Hearth's custom protocol names, declared once (documented in docs/protocol.md)."""

STATUS = "hearth/status"  # notification, server -> client
TRACE = "hearth/trace"  # request
CHAT = "hearth/chat"  # request
CONVERSATIONS = "hearth/conversations"  # request

CMD_ACCEPT = "hearth.acceptCompletion"
CMD_DISMISS = "hearth.dismissCompletion"
CMD_REINDEX = "hearth.reindex"
CMD_EXPLAIN = "hearth.explain"
CMD_REFACTOR = "hearth.refactor"
CMD_STATUS = "hearth.status"

ALL = (STATUS, TRACE, CHAT, CONVERSATIONS, CMD_ACCEPT, CMD_DISMISS, CMD_REINDEX, CMD_EXPLAIN, CMD_REFACTOR, CMD_STATUS)
