"""`medpulse demo --platform teams`: the demo trust through the Teams adapter writes the cards it
posted as JSON beside the charts (the slow whole-demo run; the Slack one is in test_cli)."""

from __future__ import annotations

import json

from simulator.demo import main
from simulator.fake_teams import card_actions


def test_the_teams_demo_writes_its_cards_beside_its_charts(tmp_path, monkeypatch):
    """Sixty doctors over two pulses: a few hundred taps, more than the bot's server keeps
    connections open for (100), so a sender that left its connections open would stall it."""
    monkeypatch.chdir(tmp_path)
    args = ["--platform", "teams", "--doctors", "60", "--rounds", "2", "--out", "out", "--quiet"]
    assert main(args) == 0
    out = tmp_path / "out"
    summary = sorted(out.glob("summary-*-teams-card.json"))[-1]
    card = json.loads(summary.read_text())
    [image] = [b for b in card["body"] if b["type"] == "Image"]
    assert (out / image["url"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image["altText"]
    assert any("answered" in b.get("text", "") for b in card["body"])
    # The detail opens inside the card (no Slack-style button that asks the bot to redraw it).
    [more] = card["actions"]
    assert more["type"] == "Action.ShowCard" and more["title"] == "More detail"
    inner = " ".join(b.get("text", "") for b in more["card"]["body"])
    assert "Every question this pulse" in inner
    assert "Every question this pulse" not in " ".join(b.get("text", "") for b in card["body"])
    pulse = json.loads((out / "teams-pulse-card.json").read_text())
    taps = card_actions(pulse)
    assert taps and all(a["type"] == "Action.Execute" for a in taps)
    assert {a["verb"] for a in taps} == {"answer", "comment", "not_now", "why"}
    closed = json.loads((out / "teams-closed-pulse-card.json").read_text())
    assert "actions" not in closed and "closed" in closed["body"][0]["text"]
    index = (out / "index.md").read_text()
    assert "against a simulated Teams" in index and "Slack" not in index
    assert f"`{summary.name}`: the latest summary" in index
    assert "| `teams-pulse-card.json` | a pulse card" in index
