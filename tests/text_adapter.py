"""A plain-text chat platform, written only for the tests: the proof that the core needs no Slack.

``TextGateway`` implements ``bot.chat.gateway.ChatGateway`` with no capability at all (no read-back,
no ephemeral notes, no response URLs, no home, no forms, no directory): every view becomes lines
of text in an in-memory conversation, and every call is recorded. ``TextListener`` is the other
direction, text in: it parses what a person types ("answer 1 4", "comment ...") and calls the
core exactly as a platform's listener would. Nothing here imports an adapter, the simulator or
an SDK.

Its at-most-once send (what the core relies on when ``read_back`` is off, ``bot.delivery.outbox``)
is the simplest there is: a tag it has delivered is answered with the message it delivered.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.chat.errors import Gone, Transient, Undeliverable
from bot.chat.gateway import Capabilities, ChannelInfo, Member
from bot.chat.ids import MessageRef
from bot.chat.views import (
    ClosedPulseView,
    FormView,
    HomeView,
    Image,
    PulseView,
    Section,
    SummaryView,
    TextView,
    View,
)
from bot.core import Core
from bot.rounds import answers, doctor
from bot.rounds.pulse_view import parse_answer_value

_MENTION = re.compile(r"<([@#])([^>|]+)(?:\|[^>]*)?>")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")


def plain(text: str) -> str:
    """The view's light marks dropped (``bot.chat.views``): ``*strong*``, ``_emphasis_``,
    `` `code` ``; a mention ``<@id>`` or ``<#channel>`` becomes ``@id`` or ``#channel``."""
    text = _MENTION.sub(lambda m: m.group(1) + m.group(2), text)
    text = _ITALIC.sub(lambda m: m.group(1), text)
    return text.replace("*", "").replace("`", "")


def _pulse(v: PulseView) -> list[str]:
    lines = [v.intro] + ([v.action_note] if v.action_note else [])
    for q in v.questions:
        lines.append(f"{q.number}. {q.text}")
        lines.append("   " + " | ".join(f"{c.value} = {c.label}" for c in q.choices))
        if q.hint:
            lines.append(f"   ({q.hint})")
    lines.append("Reply 'answer <question> <value>', or 'comment <your words>'.")
    lines.append(v.privacy)
    return lines


def _part(p: Section) -> list[str]:
    return ([p.title] if p.title else []) + list(p.lines)


def _summary(v: SummaryView) -> list[str]:
    lines = [v.title.upper()] + ([v.preface] if v.preface else []) + [v.headline]
    for p in v.sections:
        lines += _part(p)
    return lines + ([v.footer] if v.footer else [])


def render(view: View) -> str:
    if isinstance(view, PulseView):
        lines = _pulse(view)
    elif isinstance(view, ClosedPulseView):
        lines = [view.text] + ([view.results_hint] if view.results_hint else [])
    elif isinstance(view, SummaryView):
        lines = _summary(view)
    elif isinstance(view, TextView):
        lines = [view.text]
    else:
        raise TypeError(f"the text platform cannot show a {type(view).__name__}")
    return plain("\n".join(lines))


@dataclass
class Message:
    id: str
    text: str
    view: View
    images: list[Image] = field(default_factory=list)


class TextGateway:
    """One tenant of the plain-text platform. ``sources`` maps an audience source to its people;
    ``shared`` names channels that reach outside the tenant."""

    platform = "text"
    capabilities = Capabilities()

    def __init__(self, sources: dict[str, list[Member]], shared: set[str] = frozenset()) -> None:
        self.sources = sources
        self.shared = set(shared)
        self.conversations: dict[str, list[Message]] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, conversation), in order
        self.blocked: set[str] = set()  # people who cannot receive messages
        self.ambiguous: set[str] = set()  # people whose next send is delivered, then "times out"
        self._by_tag: dict[str, MessageRef] = {}
        self._next = 0
        self._lock = threading.Lock()  # the delivery worker sends from several threads

    # -- what the core asks ---------------------------------------------------------------
    def send_dm(self, user_id: str, view: View, tag: str | None = None) -> MessageRef:
        """At most once per tag: a tag already delivered is answered with its message."""
        if user_id in self.blocked:
            raise Undeliverable("blocked")
        with self._lock:
            if tag is not None and tag in self._by_tag:
                self.calls.append(("send_dm (already sent)", f"dm:{user_id}"))
                return self._by_tag[tag]
            ref = self._append(f"dm:{user_id}", view, "send_dm")
            if tag is not None:
                self._by_tag[tag] = ref
            if user_id in self.ambiguous:
                self.ambiguous.discard(user_id)
                raise Transient("timeout")  # delivered, but the sender cannot know it
            return ref

    def find_sent(self, user_id: str, tag: str, since: float) -> MessageRef | None:
        self.calls.append(("find_sent", f"dm:{user_id}"))  # seen even if the error is swallowed
        raise AssertionError("no read-back on this platform: the core must not ask")

    def update(self, ref: MessageRef, view: View) -> None:
        with self._lock:
            msg = self._find(ref)
            msg.text, msg.view = render(view), view
            self.calls.append(("update", ref.conversation))

    def delete(self, ref: MessageRef) -> None:
        with self._lock:
            msg = self._find(ref)
            self.conversations[ref.conversation].remove(msg)
            self.calls.append(("delete", ref.conversation))

    def post_channel(self, channel: str, view: View, image: Image | None = None) -> MessageRef:
        with self._lock:
            ref = self._append(channel, view, "post_channel")
            if image is not None:
                self._find(ref).images.append(image)
            return ref

    def post_image(self, channel: str, image: Image) -> None:
        with self._lock:
            self.conversations[channel][-1].images.append(image)
            self.calls.append(("post_image", channel))

    def members(self, source: str) -> Iterator[Member]:
        self.calls.append(("members", source))
        yield from self.sources.get(source, [])

    def channel_info(self, channel: str) -> ChannelInfo:
        shared = channel in self.shared
        return ChannelInfo(
            channel, channel, shared, why_shared="it is open to guests" if shared else None
        )

    def user(self, user_id: str) -> Member:
        for people in self.sources.values():
            for m in people:
                if m.user_id == user_id:
                    return m
        raise Undeliverable("user_not_found")

    def user_by_email(self, email: str) -> str | None:
        raise AssertionError("no directory on this platform: the core must not ask")

    def open_form(self, trigger: str, form: FormView) -> None:
        raise AssertionError("no forms on this platform: the core must not ask")

    def publish_home(self, user_id: str, home: HomeView) -> None:
        raise AssertionError("no home on this platform: the core must not ask")

    # -- what the tests read ----------------------------------------------------------------
    def dm(self, user_id: str) -> list[str]:
        """What this person's conversation with the bot shows now, oldest first."""
        return [m.text for m in self.conversations.get(f"dm:{user_id}", [])]

    def channel(self, channel: str) -> list[Message]:
        return list(self.conversations.get(channel, []))

    def last_pulse(self, user_id: str) -> PulseView | None:
        views = [m.view for m in self.conversations.get(f"dm:{user_id}", [])]
        return next((v for v in reversed(views) if isinstance(v, PulseView)), None)

    def _append(self, conversation: str, view: View, op: str) -> MessageRef:
        self._next += 1
        msg = Message(str(self._next), render(view), view)
        self.conversations.setdefault(conversation, []).append(msg)
        self.calls.append((op, conversation))
        return MessageRef(conversation, msg.id)

    def _find(self, ref: MessageRef) -> Message:
        for msg in self.conversations.get(ref.conversation, []):
            if msg.id == ref.message:
                return msg
        raise Gone("message_not_found")


class TextListener:
    """Text in: what a person types, parsed and passed to the core (as a listener does).

    The reply is returned, not posted: with no ephemeral notes on this platform, a note saying
    which answer was stored must not stay in the conversation's history.
    """

    def __init__(self, core: Core, gateway: TextGateway, tenant: str) -> None:
        self.core, self.gw, self.tenant = core, gateway, tenant

    def say(self, user: str, text: str) -> str:
        verb, _, rest = text.strip().partition(" ")
        pulse = self.gw.last_pulse(user)
        if pulse is None:
            return "There is no pulse for you to answer."
        if verb == "answer":
            return self._answer(user, pulse, rest)
        if verb == "comment":
            return self._comment(user, pulse.round_id, rest)
        return "Say 'answer <question> <value>' or 'comment <your words>'."

    def _answer(self, user: str, pulse: PulseView, rest: str) -> str:
        try:
            number, value = (int(x) for x in rest.split())
        except ValueError:
            return "Say 'answer <question> <value>', for example 'answer 1 4'."
        q = next((q for q in pulse.questions if q.number == number), None)
        choice = next((c for c in q.choices if c.value == value), None) if q else None
        parsed = parse_answer_value(choice.action_value) if choice else None
        if parsed is None:
            return f"There is no answer {value} to question {number}."
        round_id, version_id, value = parsed
        out = answers.record_answer(self.core, self.tenant, user, round_id, version_id, value)
        if out.status != "recorded":
            return f"Not recorded: {out.status}."
        note = doctor.tap_note(self.core, self.tenant, user, out.delivery, out.round, version_id)
        return plain(note)

    def _comment(self, user: str, round_id: int, rest: str) -> str:
        text = answers.clean_comment(rest)
        if not text or len(text) > answers.MAX_COMMENT:
            return f"A comment is 1 to {answers.MAX_COMMENT:,} characters."
        out = answers.record_comment(self.core, self.tenant, user, round_id, text, None)
        if out.status != "recorded":
            return f"Not recorded: {out.status}."
        return "Thank you: your comment is stored without your name."
