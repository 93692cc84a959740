"""Physical worlds as Gymnasium envs, the world registry and the `from_gymnasium` adapter.

Example:
    >>> from ami.worlds import make
    >>> env = make("two_room", size=32)
    >>> obs, info = env.reset(seed=0)
    >>> obs["pixels"].shape, obs["pixels"].dtype.name
    ((32, 32, 3), 'uint8')
"""

from ami.worlds.gym_id import GymId, is_gym_world, parse_gym_id
from ami.worlds.gymnasium_adapter import GymnasiumAdapter, from_gymnasium
from ami.worlds.registry import GYMNASIUM_ID, make, make_two_room, names, register
from ami.worlds.speed import measure_steps_per_second
from ami.worlds.two_room import TwoRoom, TwoRoomConfig

__all__ = [
    "GYMNASIUM_ID",
    "GymId",
    "GymnasiumAdapter",
    "TwoRoom",
    "TwoRoomConfig",
    "from_gymnasium",
    "is_gym_world",
    "make",
    "make_two_room",
    "measure_steps_per_second",
    "names",
    "parse_gym_id",
    "register",
]
