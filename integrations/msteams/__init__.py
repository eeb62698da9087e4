"""Microsoft Teams adapter: the core's chat gateway and listener on the Bot Connector.

* ``config``: the ``TEAMS_*`` settings as the adapter uses them.
* ``auth``: verifies the Bot Framework JWT on every request Teams posts to ``/api/messages``.
* ``events``: turns a verified activity into a small typed event (a message, a card tap, an
  install or uninstall, a roster change).
* ``web``: the WSGI endpoint that does both and hands events to the listener.
* ``app``: the listener: install -> workspace and audience, taps -> answers and comments,
  commands (the same words as ``/pulse``) authorised by Entra ID object ID, the home card.
* ``connector``: a synchronous Bot Connector client (token, 1:1 conversations, send, update,
  delete, paged members) with Teams' retry rules; sends repeated only when certainly not posted.
* ``pacer``: one pace per tenant for every call (Teams' per-app, per-tenant limit).
* ``cards``: Adaptive Cards rendered from the core's views (``bot.chat.views``), within limits.
* ``routes``: the 1:1 and team routes and the at-most-once send ledger (``chat_routes``,
  ``sent_messages``).
* ``gateway``: ``TeamsGateway``, the core's ``ChatGateway`` on Teams.
* ``package``: the app package (manifest and icons) and ``medpulse teams-package``.

Teams and Entra ID identifiers live only in ``chat_routes``, ``sent_messages``, participants,
deliveries and roles (the identity side); never on an answer or a comment.
"""
