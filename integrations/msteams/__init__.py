"""Microsoft Teams groundwork: the pieces of a Teams adapter that need nothing from the core.

* ``config``: the ``TEAMS_*`` settings (read from the environment until the core's settings
  hold them).
* ``auth``: verifies the Bot Framework JWT on every request Teams posts to ``/api/messages``.
* ``events``: turns a verified activity into a small typed event (a message, a card tap, an
  install or uninstall, a roster change).
* ``web``: the WSGI endpoint that does both and hands events to a callback.
* ``connector``: a synchronous Bot Connector client (token, 1:1 conversations, send, update,
  delete, paged members) with Teams' retry rules and at-most-once sends.
* ``pacer``: a per-tenant pace for those calls (every call counts against the tenant's limit).
* ``cards``: Adaptive Cards for a pulse, the neutral closed pulse and a summary, within limits.
* ``gateway``: the core's requests done on Teams (roster, open a 1:1, send a pulse, close it,
  post a summary, say something), with the capability flags the core must respect.
* ``package``: the app package (manifest and icons) and ``medpulse teams-package``.

Nothing here imports ``slack_sdk``, ``slack_bolt``, ``handlers`` or ``storage``.

What the core must offer before this becomes an adapter (issue 15):

1. Neutral identifiers wide enough for Teams: tenant GUIDs (36), user IDs (``29:…``, well over
   100 characters), Entra ID object IDs (36), conversation IDs (up to a few hundred) and the
   service URL per person (it can change: keep the latest an inbound activity shows).
2. A gateway protocol shaped like ``gateway.TeamsGateway`` with capability flags: no read-back,
   no ephemeral replies, no response URLs, the tap's reply in the tap's own HTTP response.
3. An outbox with a *sending* state written before the call and the outcomes of
   ``connector.Outcome``; an *uncertain* row is never sent again, and the one reminder to
   non-responders carries the pulse card itself.
4. Typed events in (``events``) and, for a tap, a neutral result the adapter can say in a toast
   (which answer was recorded, how many of how many), not a redraw of the card.
5. Roles keyed by Entra ID object ID (``Person.aad_object_id``), not by the per-bot ``29:`` ID.
6. A limiter keyed by (platform, tenant), counting every call, that a 429 pauses tenant-wide.
7. Settings and wiring: ``TEAMS_*`` in the settings, ``TeamsEndpoint.from_config`` mounted at
   ``/api/messages`` when they are set, and an answer-link key that does not come from Slack.
"""
