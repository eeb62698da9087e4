"""The summary chart: a real PNG that decodes, sized for a phone, honest about hidden periods,
and drawn from a model built by the real summary code."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest

from bot.insights import charts, summary
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


def test_a_hidden_period_reads_not_shown_clear_of_the_legend(monkeypatch):
    """Hidden is not always "too few" (a smaller group's protection, a changed audience)."""
    import matplotlib.axes

    notes = []
    real = matplotlib.axes.Axes.annotate

    def spy(self, text, xy, *args, **kwargs):
        notes.append((text, xy))
        return real(self, text, xy, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "annotate", spy)
    charts.summary_png(_model(0, hidden_latest=True), TITLE)
    hidden = [(text, xy) for text, xy in notes if "shown" in text]
    assert hidden == [("not\nshown", (11, 5.0))]
    assert not [text for text, _ in notes if "few" in text]


def test_hidden_periods_and_empty_models_still_draw():
    _decode(charts.summary_png(_model(3, hidden_latest=True), TITLE))
    empty = Summary("6 Oct 2026", None, 5)
    _decode(charts.summary_png(empty, TITLE))


def test_the_chart_of_a_real_summary(core, fake, tmp_path):
    t = Trust(core, fake)
    keys = _keys(core, t.ws, "agree5", n=6)
    for week in range(4):
        t.round(
            {key: [1 + (i + week) % 5 for i in range(20)] for key in keys}
            | {"headline-engagement": [(i + week) % 11 for i in range(40)]}
        )
    model = summary.build(core, t.ws)
    assert len(model.headline.trend) == 4 and model.themes
    data = charts.summary_png(model, TITLE)
    _decode(data)
    (tmp_path / "chart.png").write_bytes(data)  # kept for a look when a test run fails
