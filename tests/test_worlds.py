"""Tests of ami.worlds: TwoRoom physics and rendering, the registry, the Gymnasium adapter."""

from __future__ import annotations

import importlib.util

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

from ami.errors import ConfigError, UnknownWorldError
from ami.worlds import (
    GYMNASIUM_ID,
    TwoRoom,
    TwoRoomConfig,
    from_gymnasium,
    make,
    names,
    register,
)
from ami.worlds import registry as registry_module

# ----------------------------------------------------------------------------- TwoRoom physics


def inflated_walls(c: TwoRoomConfig) -> list[tuple[float, float, float, float]]:
    """Wall rectangles (x0, x1, y0, y1) inflated by the agent radius, from the config's words."""
    r, t = c.agent_radius, c.wall_thickness
    x0, x1 = 0.5 - t / 2 - r, 0.5 + t / 2 + r
    door_top, door_bottom = c.door_center - c.door_width / 2, c.door_center + c.door_width / 2
    return [(x0, x1, -r, door_top + r), (x0, x1, door_bottom - r, 1 + r)]


def segment_enters(rect, fixed: float, a: float, b: float, horizontal: bool) -> bool:
    """Whether an axis-aligned segment meets the open interior of `rect`."""
    x0, x1, y0, y1 = rect
    lo, hi = min(a, b), max(a, b)
    if horizontal:  # y = fixed, x from a to b
        return y0 < fixed < y1 and lo < x1 and hi > x0
    return x0 < fixed < x1 and lo < y1 and hi > y0


def check_move(env: TwoRoom, prev: np.ndarray, new: np.ndarray) -> None:
    c = env.config
    r = c.agent_radius
    rects = inflated_walls(c)
    x, y = new
    assert r <= x <= 1 - r and r <= y <= 1 - r, f"out of arena: {new}"
    for rect in rects:
        x0, x1, y0, y1 = rect
        assert not (x0 < x < x1 and y0 < y < y1), f"inside wall: {new}"
        # the move is along x (at the old y), then along y (at the new x): neither leg may cross
        assert not segment_enters(rect, prev[1], prev[0], x, horizontal=True), (prev, new)
        assert not segment_enters(rect, x, prev[1], y, horizontal=False), (prev, new)
    if (prev[0] < 0.5) != (x < 0.5):
        low = c.door_center - c.door_width / 2 + r
        high = c.door_center + c.door_width / 2 - r
        assert low <= prev[1] <= high, f"changed room outside the door: {prev} -> {new}"


def adversarial_starts(c: TwoRoomConfig) -> list[tuple[float, float]]:
    r, eps = c.agent_radius, 1e-4
    (x0, x1, _, top_end), (_, _, bottom_start, _) = inflated_walls(c)
    starts = [
        # wall faces, above and below the door, touching and just off
        (x0, 0.2), (x0 - eps, 0.2), (x1, 0.2), (x1 + eps, 0.2),
        (x0, 0.8), (x0 - eps, 0.8), (x1, 0.8), (x1 + eps, 0.8),
        # door jambs from inside the passage
        (0.5, top_end), (0.5, bottom_start), (0.5, c.door_center), (0.5, top_end + eps),
        # the 4 door corners, on them and just outside
        (x0, top_end), (x1, top_end), (x0, bottom_start), (x1, bottom_start),
        (x0 - eps, top_end + eps), (x1 + eps, top_end + eps),
        (x0 - eps, bottom_start - eps), (x1 + eps, bottom_start - eps),
        # arena corners and where the wall meets the arena's top and bottom
        (r, r), (1 - r, r), (r, 1 - r), (1 - r, 1 - r),
        (x0, r), (x1, r), (x0, 1 - r), (x1, 1 - r),
    ]  # fmt: skip
    return starts


DIRECTIONS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]


@pytest.mark.parametrize("max_speed", [0.03, 0.2, 1.0])
def test_wall_is_never_entered_nor_crossed_from_adversarial_starts(max_speed):
    env = TwoRoom(TwoRoomConfig(max_speed=max_speed, max_episode_steps=10_000))
    rng = np.random.default_rng(0)
    moves = 0
    for start in adversarial_starts(env.config):
        plans = [
            np.tile(np.array(d, np.float32) * scale, (25, 1))
            for d in DIRECTIONS
            for scale in (1, 5)
        ]
        plans += [np.tile(np.array(d, np.float32) * 0.1, (25, 1)) for d in DIRECTIONS]
        plans.append(rng.uniform(-1.5, 1.5, (200, 2)).astype(np.float32))
        plans.append(np.sign(rng.uniform(-1, 1, (200, 2))).astype(np.float32))
        for plan in plans:
            env.reset(seed=0, options={"agent": start, "goal": (0.05, 0.05)})
            np.testing.assert_array_equal(env.agent_position(), start)
            for action in plan:
                prev = env.agent_position()
                env.step(action)
                check_move(env, prev, env.agent_position())
                moves += 1
    assert moves > 20_000


def test_long_random_walk_respects_walls_and_changes_room_only_through_door():
    env = TwoRoom(TwoRoomConfig(max_speed=0.08, max_episode_steps=100_000))
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    changes = 0
    for action in rng.uniform(-1, 1, (20_000, 2)):
        prev = env.agent_position()
        env.step(action)
        new = env.agent_position()
        check_move(env, prev, new)
        changes += env.room_of(prev) != env.room_of(new)
    assert changes > 0  # the walk did go through the door, so the door check was exercised


def test_scripted_path_goes_through_the_door_to_the_right_room():
    env = TwoRoom()
    env.reset(seed=0, options={"agent": (0.2, 0.15), "goal": (0.8, 0.85)})
    assert env.room_of(env.agent_position()) == 0
    for _ in range(100):  # to the door's height, then right
        delta = env.door_waypoint - env.agent_position()
        if abs(delta[1]) < 1e-9:
            break
        env.step(np.array([0.0, np.clip(delta[1] / env.config.max_speed, -1, 1)]))
    for _ in range(30):
        env.step(np.array([1.0, 0.0]))
    position = env.agent_position()
    assert env.room_of(position) == 1 and position[0] > 0.7
    assert position[1] == pytest.approx(env.config.door_center)


def test_pushing_into_the_wall_above_the_door_stays_in_the_left_room():
    env = TwoRoom()
    env.reset(seed=0, options={"agent": (0.3, 0.2), "goal": (0.8, 0.8)})
    for _ in range(50):
        env.step(np.array([1.0, 0.0]))
    x0 = inflated_walls(env.config)[0][0]
    np.testing.assert_allclose(env.agent_position(), [x0, 0.2])


def test_reset_options_place_agent_and_goal_exactly():
    env = TwoRoom()
    obs, info = env.reset(seed=5, options={"agent": (0.1, 0.3), "goal": (0.9, 0.6)})
    np.testing.assert_array_equal(env.agent_position(), [0.1, 0.3])
    np.testing.assert_array_equal(env.goal_position(), [0.9, 0.6])
    np.testing.assert_allclose(obs["state"], [0.1, 0.3])
    np.testing.assert_allclose(info["goal_state"], [0.9, 0.6])
    assert info["distance"] == pytest.approx(np.hypot(0.8, 0.3))


@pytest.mark.parametrize(
    "key, position",
    [("agent", (0.5, 0.1)), ("goal", (0.5, 0.9)), ("agent", (1.2, 0.5)), ("goal", (0.01, 0.5)),
     ("agent", (0.5 - 0.02 - 0.02, 0.2)), ("goal", (0.3, 0.3, 0.3))],
)  # fmt: skip
def test_reset_rejects_positions_that_are_not_free(key, position):
    with pytest.raises(ConfigError, match=key):
        TwoRoom().reset(seed=0, options={key: position})


def test_sampled_positions_are_free_and_in_the_requested_room():
    env = TwoRoom()
    rng = np.random.default_rng(0)
    for room in (0, 1, None):
        points = np.array([env.sample_free_position(rng, room) for _ in range(300)])
        assert all(env.is_free(p) for p in points)
        if room is not None:
            assert all(env.room_of(p) == room for p in points)
        else:
            assert {env.room_of(p) for p in points} == {0, 1}


def test_success_terminates_at_the_stated_radius_and_reward_is_minus_distance():
    env = TwoRoom()
    env.reset(seed=0, options={"agent": (0.3, 0.5), "goal": (0.3, 0.519)})
    _, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
    assert terminated and info["is_success"] and not truncated
    assert reward == pytest.approx(-0.019)
    env.reset(seed=0, options={"agent": (0.3, 0.5), "goal": (0.3, 0.521)})
    _, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
    assert not terminated and not info["is_success"]
    assert reward == pytest.approx(-0.021)


def test_truncation_at_max_episode_steps():
    env = TwoRoom(TwoRoomConfig(max_episode_steps=5))
    env.reset(seed=0, options={"agent": (0.1, 0.1), "goal": (0.9, 0.9)})
    flags = [env.step(np.zeros(2, np.float32))[3] for _ in range(5)]
    assert flags == [False, False, False, False, True]
    env.reset(seed=0)
    assert env.step(np.zeros(2, np.float32))[3] is False


# ----------------------------------------------------------------------------- rendering


def agent_centroid(pixels: np.ndarray) -> np.ndarray:
    """Sub-pixel (column, row) centroid of the red agent on the light floor, left of the wall."""
    left = pixels[:, :28].astype(np.float64)
    weight = (235.0 - left[:, :, 1]) / (235.0 - 30.0)
    rows, cols = np.mgrid[0 : left.shape[0], 0 : left.shape[1]] + 0.5
    return np.array([(weight * cols).sum(), (weight * rows).sum()]) / weight.sum()


def test_agent_centroid_tracks_position_to_sub_pixel_accuracy():
    env = TwoRoom()
    rng = np.random.default_rng(0)
    for _ in range(50):
        position = rng.uniform([0.05, 0.05], [0.38, 0.95])
        pixels = env.render_at(position)
        np.testing.assert_allclose(agent_centroid(pixels), position * 64, atol=0.25)


def test_sub_pixel_moves_change_the_image_in_the_right_direction():
    env = TwoRoom()
    a = env.render_at(np.array([0.3, 0.4]))
    b = env.render_at(np.array([0.3 + 0.1 / 64, 0.4]))
    assert not np.array_equal(a, b)
    shift = agent_centroid(b) - agent_centroid(a)
    assert 0.05 < shift[0] < 0.15 and abs(shift[1]) < 0.02


def test_frame_shows_floor_walls_and_agent_colours():
    env = TwoRoom()
    obs, _ = env.reset(seed=0, options={"agent": (0.25, 0.25), "goal": (0.75, 0.75)})
    pixels = obs["pixels"]
    np.testing.assert_array_equal(pixels[16, 16], [220, 30, 30])  # agent centre
    np.testing.assert_array_equal(pixels[60, 5], [235, 235, 235])  # floor
    np.testing.assert_array_equal(pixels[5, 32], [40, 40, 40])  # wall above the door
    np.testing.assert_array_equal(pixels[32, 32], [235, 235, 235])  # the door is open
    assert np.array_equal(env.render(), pixels)


def test_goal_is_not_drawn_and_goal_pixels_is_the_view_from_the_goal():
    env = TwoRoom()
    a, _ = env.reset(seed=0, options={"agent": (0.2, 0.2), "goal": (0.8, 0.8)})
    b, _ = env.reset(seed=0, options={"agent": (0.2, 0.2), "goal": (0.7, 0.3)})
    assert np.array_equal(a["pixels"], b["pixels"])
    at_goal, _ = env.reset(seed=0, options={"agent": (0.7, 0.3), "goal": (0.7, 0.3)})
    assert np.array_equal(env.goal_pixels(), at_goal["pixels"])
    env.reset(seed=0, options={"agent": (0.2, 0.2), "goal": (0.7, 0.3)})
    assert np.array_equal(env.goal_pixels(), at_goal["pixels"])


# ----------------------------------------------------------------------------- registry

NEEDS = {"cube": "ogbench"}  # worlds of an optional extra, and the package each needs
WORLDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None,
            reason=f"the {name} world needs {NEEDS.get(name)} (pip install 'ami[{name}]')",
        ),
    )
    for name in names()
]


@pytest.mark.parametrize("name", WORLDS)
def test_every_world_is_deterministic_under_seed(name):
    runs = []
    for _ in range(2):
        env = make(name)
        obs, info = env.reset(seed=7)
        trace = [obs["pixels"], obs["state"], info["goal_state"]]
        rng = np.random.default_rng(0)
        for _ in range(30):
            obs, reward, _, _, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
            trace += [obs["pixels"], obs["state"], np.array([reward, info["distance"]])]
        runs.append(trace)
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
    other = make(name).reset(seed=8)[0]
    assert not np.array_equal(other["pixels"], runs[0][0])


@pytest.mark.parametrize("name", WORLDS)
def test_every_world_keeps_the_obs_contract(name):
    env = make(name)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert env.observation_space.contains(obs)
        assert obs["pixels"].dtype == np.uint8 and obs["pixels"].shape[2] == 3
        assert obs["state"].dtype == np.float32
        assert info["goal_state"].dtype == np.float32 and info["goal_state"].ndim == 1
        assert isinstance(info["distance"], float) and isinstance(info["is_success"], bool)
        obs, _, _, _, info = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
    assert env.action_space == spaces.Box(-1.0, 1.0, env.action_space.shape, np.float32)
    assert env.goal_pixels().shape == obs["pixels"].shape


STATE_ACCESSORS = {
    "two_room": ("agent_position", "goal_position"),
    "maze": ("agent_position", "goal_position"),
    "push_t": ("pusher_position", "block_pose", "goal_pose"),
    "reacher": ("joint_angles", "joint_velocities", "goal_configuration"),
    "cube": ("cube_position", "arm_joint_angles", "target_position"),
}


def test_every_registered_world_is_covered_by_the_contract_tests():
    assert set(names()) == set(STATE_ACCESSORS)


@pytest.mark.parametrize("name", WORLDS)
def test_every_world_resets_exactly_to_its_own_states(name):
    env = make(name)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    states = [obs["state"]]
    for _ in range(15):
        states.append(env.step(rng.uniform(-1, 1, env.action_space.shape))[0]["state"])
    start, goal = states[5].astype(np.float64), states[15].astype(np.float64)
    options = env.unwrapped.reset_options(start, goal)
    if options is None:  # PushT: the pusher touching the block; try an untouched state
        start = states[0].astype(np.float64)
        options = env.unwrapped.reset_options(start, goal)
    obs, info = env.reset(seed=99, options=options)
    np.testing.assert_allclose(obs["state"], start, atol=1e-5)
    goal_part = info["goal_state"]
    assert any(
        np.allclose(goal_part, goal[i : i + len(goal_part)], atol=1e-5)
        for i in range(len(goal) - len(goal_part) + 1)
    )


@pytest.mark.parametrize("name", WORLDS)
def test_every_world_returns_arrays_that_do_not_alias_its_state(name):
    env = make(name)
    env.reset(seed=0)
    zero = np.zeros(env.action_space.shape, np.float32)
    expected = env.step(zero)[0]
    obs, info = env.reset(seed=0)
    goal_view = env.goal_pixels()
    for array in (obs["pixels"], obs["state"], info["goal_state"], goal_view):
        array[...] = 0
    for accessor in STATE_ACCESSORS[name]:
        getattr(env, accessor)()[...] = 0
    again = env.step(zero)[0]
    np.testing.assert_array_equal(again["pixels"], expected["pixels"])
    np.testing.assert_array_equal(again["state"], expected["state"])
    assert env.goal_pixels().any()


def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env

    check_env(gymnasium.make(GYMNASIUM_ID).unwrapped)


def test_registry_make_names_and_overrides():
    assert "two_room" in names()
    env = make("two_room", size=32, max_speed=0.05)
    assert env.reset(seed=0)[0]["pixels"].shape == (32, 32, 3)
    assert env.config.max_speed == 0.05
    gym_env = gymnasium.make(GYMNASIUM_ID, size=24)
    assert gym_env.reset(seed=0)[0]["pixels"].shape == (24, 24, 3)


def test_unknown_world_lists_known_names_in_one_line():
    with pytest.raises(UnknownWorldError, match="two_room") as caught:
        make("three_room")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "overrides, field",
    [({"sise": 32}, "sise"), ({"size": 8}, "size"), ({"max_speed": 0.0}, "max_speed"),
     ({"door_width": 0.04}, "door_width"), ({"door_center": 0.95}, "door_center"),
     ({"agent_radius": -0.1}, "agent_radius"), ({"max_episode_steps": 0}, "max_episode_steps")],
)  # fmt: skip
def test_bad_config_is_a_config_error_naming_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        make("two_room", **overrides)


def test_register_adds_a_world_and_refuses_duplicates(monkeypatch):
    monkeypatch.setattr(registry_module, "_FACTORIES", dict(registry_module._FACTORIES))
    before = names()
    register("tiny_room", lambda **overrides: TwoRoom(TwoRoomConfig(size=16, **overrides)))
    assert names() == sorted([*before, "tiny_room"])
    assert make("tiny_room").config.size == 16
    with pytest.raises(ConfigError, match="tiny_room"):
        register("tiny_room", TwoRoom)


# ----------------------------------------------------------------------------- adapter


class TinyEnv(gymnasium.Env):
    """A 2x2 float64 observation; a 30x40 RGBA frame whose colour encodes the last action."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode="rgb_array", action_space=None, observation_space=None):
        self.render_mode = render_mode
        self.action_space = action_space or spaces.Box(
            np.array([0.0, -2.0]), np.array([10.0, 2.0]), dtype=np.float64
        )
        self.observation_space = observation_space or spaces.Box(-1.0, 1.0, (2, 2), np.float64)
        self.received = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample() * 0 + 0.25, {}

    def step(self, action):
        self.received.append(np.array(action))
        info = {"is_success": True} if len(self.received) >= 3 else {}
        return self.observation_space.sample() * 0 - 0.5, 1.0, False, False, info

    def render(self):
        frame = np.zeros((30, 40, 4), np.uint8)
        frame[..., 0] = 10 * len(self.received)
        frame[..., 1] = 200
        frame[..., 3] = 255
        return frame


def test_adapter_observation_is_resized_pixels_and_flat_state():
    env = from_gymnasium(TinyEnv(), size=16)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["pixels"].shape == (16, 16, 3) and obs["pixels"].dtype == np.uint8
    np.testing.assert_array_equal(obs["pixels"][..., 1], 200)
    np.testing.assert_array_equal(obs["state"], np.full(4, 0.25, np.float32))
    assert obs["state"].dtype == np.float32 and info["is_success"] is False
    obs, reward, _, _, _ = env.step(np.zeros(2, np.float32))
    np.testing.assert_array_equal(obs["pixels"][..., 0], 10)
    np.testing.assert_array_equal(obs["state"], np.full(4, -0.5, np.float32))
    assert reward == 1.0 and np.array_equal(env.render(), obs["pixels"])


def test_adapter_maps_unit_actions_affinely_to_the_original_bounds():
    inner = TinyEnv()
    env = from_gymnasium(inner, size=8)
    env.reset(seed=0)
    for action in ([-1, -1], [1, 1], [0, 0.5], [3, -7]):
        env.step(np.array(action, np.float32))
    expected = [[0, -2], [10, 2], [5, 1], [10, -2]]
    np.testing.assert_allclose(np.array(inner.received), expected, atol=1e-6)
    assert env.action_space == spaces.Box(-1.0, 1.0, (2,), np.float32)


def test_adapter_passes_is_success_from_the_env():
    env = from_gymnasium(TinyEnv(), size=8)
    env.reset(seed=0)
    flags = [env.step(np.zeros(2, np.float32))[4]["is_success"] for _ in range(3)]
    assert flags == [False, False, True]


class DiscreteObsEnv(TinyEnv):
    """TinyEnv whose observation is Discrete(3): the state is its one-hot."""

    def __init__(self):
        super().__init__(observation_space=spaces.Discrete(3))

    def reset(self, *, seed=None, options=None):
        return 2, {}


class SequenceObsEnv(TinyEnv):
    """TinyEnv whose observation is a Sequence, which has no flat vector form."""

    def __init__(self):
        super().__init__(observation_space=spaces.Sequence(spaces.Discrete(2)))

    def reset(self, *, seed=None, options=None):
        return (1, 0, 1), {}


def test_adapter_state_of_non_box_observations():
    obs, _ = from_gymnasium(DiscreteObsEnv(), size=8).reset(seed=0)
    np.testing.assert_array_equal(obs["state"], np.array([0, 0, 1], np.float32))
    env = from_gymnasium(SequenceObsEnv(), size=8)
    obs, _ = env.reset(seed=0)
    assert obs["state"].shape == (0,) and obs["state"].dtype == np.float32
    assert env.state_names == []


@pytest.mark.parametrize(
    "inner, message",
    [(TinyEnv(render_mode=None), "render_mode"),
     (TinyEnv(action_space=spaces.Discrete(3)), "Box"),
     (TinyEnv(action_space=spaces.Box(-np.inf, np.inf, (2,))), "infinite")],
)  # fmt: skip
def test_adapter_refuses_unusable_envs(inner, message):
    with pytest.raises(ConfigError, match=message) as caught:
        from_gymnasium(inner)
    assert "\n" not in str(caught.value)


def test_adapter_unknown_id_is_unknown_world_error():
    with pytest.raises(UnknownWorldError, match="NoSuchEnv"):
        from_gymnasium("NoSuchEnv-v0")


def test_adapter_on_pendulum():
    pytest.importorskip("pygame")
    env = from_gymnasium("Pendulum-v1", size=32)
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (32, 32, 3) and obs["state"].shape == (3,)
    assert obs["pixels"].std() > 0  # the pendulum is drawn
    obs2, _, _, _, info = env.step(np.ones(1, np.float32))
    assert env.observation_space.contains(obs2) and info["is_success"] is False
    env.close()
