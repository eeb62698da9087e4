"""What the core asks of a chat platform, in the core's own terms.

The core (everything under ``bot/``) never imports a platform's SDK. It builds *views*
(``bot.chat.views``: a pulse, a closed pulse, a summary, a home, a form, a line of text) and
hands them to a *gateway* (``bot.chat.gateway.ChatGateway``) that each adapter implements
(``integrations/slack``, ``integrations/msteams``, and a plain-text one in the tests). Events
come back the other way as typed values (``bot.chat.events``) that listeners parse and pass in.
Identifiers are neutral strings (``bot.chat.ids``) that any platform's IDs fit.
"""
