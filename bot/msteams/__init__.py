"""Microsoft Teams groundwork: the pieces of a Teams adapter that need nothing from the core.

* ``auth``: verifies the Bot Framework JWT on every request Teams posts to ``/api/messages``.
* ``events``: turns a verified activity into a small typed event (a message, a card tap, an
  install or uninstall, a roster change).
* ``web``: the WSGI endpoint that does both and hands events to a callback.
* ``connector``: a synchronous Bot Connector client (token, 1:1 conversations, send, update,
  delete, paged members) with Teams' retry rules and a no-duplicate design for sends.
* ``cards``: Adaptive Cards for a pulse and the neutral closed pulse, with Teams' size limits.
* ``package``: the app package (manifest and icons) and the ``medpulse teams-package`` command.

Nothing here imports ``slack_sdk``, ``slack_bolt``, ``handlers`` or ``storage``: the adapter
plugs into the core's gateway protocol once that exists (issue 15), and the anonymity model
stays the core's: no Teams or Entra ID identifier is ever passed towards an answer or comment.
"""
