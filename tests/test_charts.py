"""The summary chart: a real PNG sized for a phone that says what the summary says: the titles,
the axis labels, each point's value, its interval's ends and the n under it, an arrow only where
the summary claims a change, and in words what could not be drawn. The chart is read from its
matplotlib Figure before encoding (charts.summary_figure), so a wrong value or label fails here."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest

from bot.insights import charts, summary
from bot.insights.claims import Claim, Evidence
from bot.insights.summary import Headline, Summary, ThemeScore
from tests.test_summary import Trust, _keys

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TITLE = (
    "Medical engagement pulse · Obstetrics & Gynaecology · weekly summary · period from 6 Oct 2026"
)


def _decode(data: bytes) -> np.ndarray:
    assert data.startswith(PNG_MAGIC)
    return mpimg.imread(io.BytesIO(data), format="png")


def _model(themes: int, hidden_latest: bool = False) -> Summary:
    s = Summary("6 Oct 2026", None, 5)
    trend = [(f"{d} Sep", 6.0 + 0.1 * d, (5.5, 6.9)) for d in range(1, 12)]
    trend.append(("6 Oct", None, None) if hidden_latest else ("6 Oct", 6.4, (5.9, 6.9)))
    ns = [None if m is None else 40 + i for i, (_, m, _) in enumerate(trend)]
    s.headline = Headline(40, 6.4, (5.9, 6.9), "no clear change", "Stable", trend, trend_n=ns)
    names = list(summary_themes())[:themes]
    s.theme_trend = {
        t: [(f"{d} Sep", 40.0 + 3 * d + i, (30.0 + 3 * d, 50.0 + 3 * d), 25 + d) for d in range(6)]
        for i, t in enumerate(names)
    }
    s.themes = [
        ThemeScore(
            t,
            30,
            2,
            40.0 + 6 * i,
            (30.0 + 6 * i, 50.0 + 6 * i),
            "up" if i == 1 else "no clear change",
            2,
        )
        for i, t in enumerate(names)
    ]
    if themes >= 3:  # the summary claims a fall for the third theme only
        evidence = Evidence(-9.0, (-14.0, -4.0), 60, "points", "Welch, adjusted", 3)
        fall = Claim("change", f"theme:{names[2]}", "down", "fell", evidence)
        s.claims.items.append(fall)
    return s


def summary_themes():
    from questions.themes import LABELS as THEME_LABELS

    return THEME_LABELS


@pytest.mark.parametrize("themes", [0, 1, 8])
def test_the_chart_is_a_png_readable_on_a_phone(themes):
    image = _decode(charts.summary_png(_model(themes), TITLE))
    height, width = image.shape[:2]
    assert width == 880  # 8 in at 110 dpi: Slack scales it to the screen, text stays legible
    assert 500 <= height <= 1800
    # not blank: a good share of the pixels carry ink
    assert (image[..., :3].mean(axis=2) < 0.9).mean() > 0.02


def test_the_image_grows_with_the_themes_instead_of_squeezing_them():
    few = _decode(charts.summary_png(_model(1), TITLE)).shape[0]
    many = _decode(charts.summary_png(_model(8), TITLE)).shape[0]
    assert many > few


def test_long_titles_wrap_and_keep_the_period_on_its_own_line():
    lines = charts._title_lines(TITLE).split("\n")
    assert 2 <= len(lines) <= 4 and lines[-1] == "Period from 6 Oct 2026"
    assert " ".join(lines[:-1]) == TITLE.partition(" · period from ")[0]  # no word lost
    assert all(len(line) <= 50 for line in lines)


def _words(text: str) -> str:
    return " ".join(text.split())


def _notes(ax) -> list[tuple[str, tuple[float, float]]]:
    """The annotations drawn on a panel (n labels, values, "not shown") and where they stand."""
    return [(t.get_text(), tuple(t.xy)) for t in ax.texts if hasattr(t, "xy")]


def _n_labels(ax) -> list[tuple[str, tuple[float, float]]]:
    return [(text, xy) for text, xy in _notes(ax) if text.startswith("n=")]


def _panels(fig) -> dict[str, object]:
    return {_words(ax.get_title(loc="left")): ax for ax in fig.axes}


def _ticks(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def _band(ax) -> dict[float, tuple[float, float]]:
    """The headline's interval band: at each x, its lower and upper end."""
    (band,) = ax.collections
    ends: dict[float, set[float]] = {}
    for x, y in band.get_paths()[0].vertices:
        ends.setdefault(float(x), set()).add(round(float(y), 9))
    return {x: (min(ys), max(ys)) for x, ys in ends.items()}


def _whiskers(ax) -> tuple[list[float], list[tuple[float, float]]]:
    """A theme panel's points and each whisker's ends."""
    (container,) = ax.containers
    line, _caps, (bars,) = container.lines
    ends = [(float(seg[0][1]), float(seg[1][1])) for seg in bars.get_segments()]
    return [float(y) for y in line.get_ydata()], ends


def check_headline(ax, headline: Headline) -> None:
    """The headline panel says the model's labels, means, interval ends and n, in order."""
    assert ax.get_title(loc="left") == f"Headline engagement (0–10): {headline.label}"
    assert ax.get_ylabel() == "0–10" and ax.get_ylim() == (0, 10)
    assert _ticks(ax) == [label for label, _, _ in headline.trend]
    shown = [(x, m, ci) for x, (_, m, ci) in enumerate(headline.trend) if m is not None]
    (mean_line,) = ax.lines
    assert list(mean_line.get_xdata()) == [x for x, _, _ in shown]
    assert list(mean_line.get_ydata()) == pytest.approx([m for _, m, _ in shown])
    band = _band(ax)
    for x, _, ci in shown:
        assert band[x] == pytest.approx(ci)
    ns = headline.trend_n  # each under its interval's lower end
    assert _n_labels(ax) == [(f"n={ns[x]}", (x, pytest.approx(ci[0]))) for x, _, ci in shown]
    last_x, last_m, _ = shown[-1]
    assert (f"{last_m:.1f}", (last_x, last_m)) in _notes(ax)
    hidden = [x for x, (_, m, _) in enumerate(headline.trend) if m is None]
    assert [xy for text, xy in _notes(ax) if "shown" in text] == [(x, 5.0) for x in hidden]


def check_theme(ax, points) -> None:
    """A theme panel says the model's period labels, scores, interval ends and n."""
    assert _ticks(ax) == [label for label, *_ in points]
    ys, ends = _whiskers(ax)
    assert ys == pytest.approx([m for _, m, _, _ in points])
    assert [v for end in ends for v in end] == pytest.approx(
        [v for *_, ci, _ in points for v in ci]
    )
    expected = [(f"n={n}", (x, pytest.approx(ci[0]))) for x, (_, _, ci, n) in enumerate(points)]
    assert _n_labels(ax) == expected


def test_the_headline_says_its_labels_values_intervals_and_n():
    model = _model(0)
    fig = charts.summary_figure(model, TITLE)
    assert fig.get_suptitle() == charts._title_lines(TITLE)
    (ax,) = fig.axes
    check_headline(ax, model.headline)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["95% interval", "Mean"]


def test_a_hidden_period_reads_not_shown_and_is_not_drawn():
    """Hidden is not always "too few" (a smaller group's protection, a changed audience)."""
    model = _model(0, hidden_latest=True)
    (ax,) = charts.summary_figure(model, TITLE).axes
    check_headline(ax, model.headline)
    texts = [text for text, _ in _notes(ax)]
    assert "not\nshown" in texts and not [t for t in texts if "few" in t]
    assert 11 not in _band(ax)  # no interval drawn for the hidden period


def test_each_theme_panel_says_its_name_scores_intervals_and_n():
    from questions.themes import LABELS as THEME_LABELS

    model = _model(8)
    panels = _panels(charts.summary_figure(model, TITLE))
    names = [_words(THEME_LABELS[t]) for t in model.theme_trend]
    assert list(panels)[1:] == names  # headline first, then the themes in the bank's order
    for theme, points in model.theme_trend.items():
        check_theme(panels[_words(THEME_LABELS[theme])], points)


def test_an_arrow_marks_only_the_change_the_summary_claims():
    from questions.themes import LABELS as THEME_LABELS

    model = _model(4)  # ThemeScore says "up" for the second theme, but only a claim counts
    panels = _panels(charts.summary_figure(model, TITLE))
    names = list(model.theme_trend)
    marks = {
        name: [t.get_text() for t in panels[_words(THEME_LABELS[name])].texts if "▲" in t.get_text()
               or "▼" in t.get_text()]
        for name in names
    }  # fmt: skip
    assert marks == {name: [" ▼ falling"] if name == names[2] else [] for name in names}


def test_what_cannot_be_drawn_is_said_in_words():
    from questions.themes import LABELS as THEME_LABELS

    fig = charts.summary_figure(_model(1), TITLE)
    foot = _words(fig.texts[-1].get_text())
    absent = [THEME_LABELS[t] for t in list(THEME_LABELS)[1:]]
    assert (
        f"No theme figure yet (not asked, or fewer than 5 answers) for: {', '.join(absent)}."
        in foot
    )
    assert "Headline engagement: not enough answers" not in foot
    assert foot.endswith("No figure from fewer than 5 people.")

    empty = charts.summary_figure(Summary("6 Oct 2026", None, 7), TITLE)
    foot = _words(empty.texts[-1].get_text())
    assert "Headline engagement: not enough answers to show yet." in foot
    assert foot.endswith("No figure from fewer than 7 people.")
    assert not empty.axes  # nothing to draw: no empty panels


def test_hidden_periods_and_empty_models_still_encode():
    _decode(charts.summary_png(_model(3, hidden_latest=True), TITLE))
    _decode(charts.summary_png(Summary("6 Oct 2026", None, 5), TITLE))


def test_the_chart_of_a_real_summary(core, fake, tmp_path):
    from questions.themes import LABELS as THEME_LABELS

    t = Trust(core, fake)
    keys = _keys(core, t.ws, "agree5", n=6)
    for week in range(4):
        t.round(
            {key: [1 + (i + week) % 5 for i in range(20)] for key in keys}
            | {"headline-engagement": [(i + week) % 11 for i in range(40)]}
        )
    model = summary.build(core, t.ws)
    assert len(model.headline.trend) == 4 and model.themes
    fig = charts.summary_figure(model, TITLE)
    check_headline(fig.axes[0], model.headline)
    panels = _panels(fig)
    assert len(panels) == 1 + len(model.theme_trend)
    for theme, points in model.theme_trend.items():
        check_theme(panels[_words(THEME_LABELS.get(theme, theme))], points)
    data = charts.summary_png(model, TITLE)
    _decode(data)
    (tmp_path / "chart.png").write_bytes(data)  # kept for a look when a test run fails
