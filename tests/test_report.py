import json
import re

import numpy as np
import pytest
from PIL import Image, ImageSequence

from ami.errors import ConfigError, DatasetError, ShapeError
from ami.evaluation.episodes_gif import EpisodeFrames, write_episodes_gif
from ami.evaluation.plots import plot_success_bars, plot_training_curves, read_metrics
from ami.evaluation.report import write_html_report


def _records(n=30):
    out = []
    for i in range(n):
        step = 10 * (i + 1)
        r = {
            "step": step,
            "loss": 2.0 / (i + 1) + 0.1,
            "pred_loss": 1.5 / (i + 1) + 0.05,
            "sigreg": 0.5 / (i + 1) + 0.02,
            "lr": 3e-4 * min(1.0, (i + 1) / 5),
            "frames_per_second": 900.0 + i,
        }
        if i % 10 == 9:
            r["valid_pred_loss"] = 1.6 / (i + 1) + 0.06
        out.append(r)
    return out


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _results():
    return {
        "protocols": {
            "cross_room": {
                "success_rate": 0.96,
                "random_success_rate": 0.02,
                "episodes": 50,
                "budget": 200,
                "success_radius": 0.05,
                "plan_ms_per_call": 12.345,
                "planning_seconds_per_episode": 1.5,
                "description": "Start and goal in different rooms; goal <behind> a wall & door.",
            },
            "anchor": {"success_rate": 0.5, "episodes": 20, "description": "Fixed anchors."},
        },
        "run": {"world": "two_rooms-v0", "seed": 7, "device": "cpu", "git_revision": "abc1234"},
    }


# ---------------------------------------------------------------------------------- metrics


def test_read_metrics_returns_every_record_in_order(tmp_path):
    path = tmp_path / "metrics.jsonl"
    _write_jsonl(path, _records(5))
    got = read_metrics(path)
    assert [r["step"] for r in got] == [10, 20, 30, 40, 50]
    assert got == _records(5)


def test_read_metrics_skips_a_trailing_partial_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    _write_jsonl(path, _records(3))
    with path.open("a") as f:
        f.write('{"step": 40, "loss": 0.')  # the writer crashed mid-line
    assert [r["step"] for r in read_metrics(path)] == [10, 20, 30]


def test_read_metrics_rejects_a_corrupt_line_in_the_middle(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps(r) for r in _records(4)]
    lines[1] = lines[1][:12]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="line 2 is not JSON"):
        read_metrics(path)


def test_read_metrics_rejects_a_corrupt_last_line_that_was_completed(tmp_path):
    path = tmp_path / "metrics.jsonl"
    _write_jsonl(path, _records(2))
    with path.open("a") as f:
        f.write("not json\n")
    with pytest.raises(DatasetError, match="line 3 is not JSON"):
        read_metrics(path)


def test_read_metrics_missing_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_metrics(tmp_path / "nope.jsonl")


# ------------------------------------------------------------------------------------ plots


def test_training_curves_png_is_a_valid_image(tmp_path):
    out = plot_training_curves(_records(), tmp_path / "sub" / "training_curves.png")
    assert out == tmp_path / "sub" / "training_curves.png"
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.width > 300 and im.height > 300
    assert [p.name for p in out.parent.iterdir()] == ["training_curves.png"]  # no temp left


def test_training_curves_without_loss_records_is_an_error(tmp_path):
    with pytest.raises(DatasetError):
        plot_training_curves([{"step": 1, "lr": 1e-3}], tmp_path / "c.png")


def test_success_bars_png_is_a_valid_image(tmp_path):
    out = plot_success_bars(_results(), tmp_path / "success.png")
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.width > 200 and im.height > 200


def test_success_bars_need_protocols(tmp_path):
    with pytest.raises(DatasetError, match="protocols"):
        plot_success_bars({"run": {}}, tmp_path / "success.png")


# -------------------------------------------------------------------------------------- GIF

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def _episode(t, frame_colour, goal_colour, success, title="ep"):
    frames = np.zeros((t, 8, 8, 3), np.uint8)
    frames[:] = frame_colour
    frames[:, 0, 0] = (255, 255, 255)  # make frames differ a little from the goal
    goal = np.zeros((8, 8, 3), np.uint8)
    goal[:] = goal_colour
    return EpisodeFrames(frames=frames, goal=goal, success=success, title=title)


def test_gif_plays_every_frame_of_every_episode_with_the_goal_on_the_right(tmp_path):
    episodes = [_episode(5, RED, BLUE, True, "a"), _episode(3, GREEN, RED, False, "b")]
    out = write_episodes_gif(episodes, tmp_path / "episodes.gif", scale=4, fps=10)
    with Image.open(out) as im:
        assert im.format == "GIF"
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
        durations = []
        for f in ImageSequence.Iterator(im):
            durations.append(f.info["duration"])
    assert len(frames) == 5 + 3
    first = frames[0]
    w, h = first.size
    assert w == 2 * 8 * 4 + 4  # two 32-px images and a 4-px gap
    assert first.getpixel((3 * w // 4, h - 5)) == BLUE  # goal, right half
    assert first.getpixel((w // 4, h - 5)) == RED  # current frame, left half
    assert frames[5].getpixel((3 * w // 4, h - 5)) == RED  # second episode's goal
    assert durations[4] > durations[3]  # a pause after the first episode


def test_gif_rejects_episodes_of_different_sizes(tmp_path):
    small = _episode(2, RED, BLUE, True)
    big = EpisodeFrames(np.zeros((2, 9, 9, 3), np.uint8), np.zeros((9, 9, 3), np.uint8), True, "")
    with pytest.raises(ShapeError):
        write_episodes_gif([small, big], tmp_path / "e.gif")
    with pytest.raises(ConfigError, match="scale"):
        write_episodes_gif([small], tmp_path / "e.gif", scale=0)


def test_episode_frames_checks_shapes():
    with pytest.raises(ShapeError, match="goal"):
        EpisodeFrames(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), True, "x")
    with pytest.raises(ShapeError, match="frames"):
        EpisodeFrames(np.zeros((2, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8), True, "")


# ------------------------------------------------------------------------------------- HTML


def test_html_report_shows_results_run_descriptions_and_images(tmp_path):
    results = _results()
    images = {"Training curves": "training_curves.png", "Success rates": "success.png"}
    plot_training_curves(_records(), tmp_path / "training_curves.png")
    plot_success_bars(results, tmp_path / "success.png")
    out = write_html_report(tmp_path, results, images)
    assert out == tmp_path / "report.html"
    page = out.read_text()
    assert "96.0%" in page and "2.0%" in page and "50.0%" in page
    assert "goal &lt;behind&gt; a wall &amp; door" in page
    assert "<behind>" not in page
    assert 'src="training_curves.png"' in page and 'src="success.png"' in page
    assert "two_rooms-v0" in page and "abc1234" in page
    assert "12.35" in page  # planning ms per call, two decimals
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)
    # a protocol without a random baseline gets an empty cell, not a made-up number
    anchor_row = re.search(r"<tr><th>anchor</th>(.*?)</tr>", page).group(1)
    assert "&mdash;" in anchor_row


def test_html_report_refuses_a_missing_image(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        write_html_report(tmp_path, _results(), {"Episodes": "episodes.gif"})
    with pytest.raises(ConfigError):
        write_html_report(tmp_path, _results(), {"Elsewhere": "../x.png"})
