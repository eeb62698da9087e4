"""View models: what the core says, before any platform draws it.

Each adapter renders these (Slack as Block Kit, Teams as Adaptive Cards, the tests' plain-text
adapter as lines). They hold words and numbers the core has already decided on, including
every disclosure decision: an adapter never computes a figure, it only lays it out.

Text may carry a few light marks, which each adapter translates (Slack mrkdwn uses them as they
are; Teams Markdown doubles the asterisks; plain text drops them): ``*strong*``, ``_emphasis_``,
`` `a command` ``, ``<@user_id>`` (a person, by their platform ID) and ``<#conversation_id>``
(a channel).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Choice:
    """One answer button: the stored value, its label, and the opaque value the tap carries."""

    value: int
    label: str
    action_value: str  # bot.rounds.answers encodes and parses it; adapters pass it through


@dataclass(frozen=True)
class QuestionView:
    version_id: int
    number: int  # 1-based position in the pulse
    text: str
    choices: tuple[Choice, ...]
    hint: str | None = None  # e.g. "0 = not at all · 10 = completely"


@dataclass(frozen=True)
class PulseView:
    """A pulse as sent to one doctor: identical for everyone asked in the round."""

    round_id: int
    intro: str  # "Your anonymous pulse: 3 quick questions, 30 seconds."
    questions: tuple[QuestionView, ...]
    privacy: str  # the one-line anonymity promise, with k
    closes: str  # "Friday 5 pm"
    fallback: str  # plain text for notifications and screen readers
    reminder: bool = False
    action_note: str | None = None  # "You said, we did": the newest action for this doctor


@dataclass(frozen=True)
class ClosedPulseView:
    """What every pulse message becomes at close: the same for those who answered and not."""

    text: str
    results_hint: str | None = None  # where to see the results


@dataclass(frozen=True)
class TextView:
    """A short message: a command's reply, a note, a notice."""

    text: str


@dataclass(frozen=True)
class Image:
    png: bytes
    alt: str
    filename: str = "chart.png"
    title: str = ""


@dataclass(frozen=True)
class Section:
    """A titled group of lines (a home, a status, a summary's part)."""

    title: str
    lines: tuple[str, ...] = ()
    note: bool = False  # small print (held back, a caveat), not a part of its own


@dataclass(frozen=True)
class SummaryView:
    """A summary as posted to leaders: title, sections rendered from the claims, chart."""

    title: str
    headline: str
    sections: tuple[Section, ...]
    fallback: str
    footer: str = ""
    preface: str = ""  # small print under the title: who shared it, that replies are not anonymous
    more_detail: str | None = None  # the value a "more detail" action carries; None: no action
    # The detailed version's headline and parts, carried in the post itself for platforms that
    # show them on request without asking the bot again (Teams: a card shown by a button).
    detail_headline: str = ""
    detail: tuple[Section, ...] = ()


@dataclass(frozen=True)
class HomeView:
    """A person's home (Slack App Home, Teams personal card)."""

    title: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class Field:
    """One input of a form."""

    name: str
    label: str
    kind: str = "text"  # text | multiline | choice | number
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for kind="choice"
    value: str | None = None
    optional: bool = False
    hint: str | None = None


@dataclass(frozen=True)
class FormView:
    """A form the person fills in (Slack modal, Teams dialog)."""

    form_id: str
    title: str
    fields: tuple[Field, ...]
    submit: str = "Submit"
    intro: str = ""
    private_metadata: str = ""
    errors: dict[str, str] = field(default_factory=dict)


View = PulseView | ClosedPulseView | TextView | SummaryView | HomeView
