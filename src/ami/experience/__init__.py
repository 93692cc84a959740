"""Experience: the HDF5 dataset format, T-step training windows and collection policies.

Example:
    >>> from ami.experience import CollectConfig, collect
    >>> config = CollectConfig(world="two_room", episodes=2, steps_per_episode=5, policy="expert")
    >>> [episode.pixels.shape for episode in collect(config, progress=False)]
    [(6, 64, 64, 3), (6, 64, 64, 3)]
"""

from ami.experience.collect import CollectConfig, collect, collect_to_file
from ami.experience.dataset import Episode, ExperienceDataset, write_dataset
from ami.experience.policies import MixedPolicy, Policy, RandomPolicy, TwoRoomExpert
from ami.experience.windows import WindowConfig, WindowDataset

__all__ = [
    "CollectConfig",
    "Episode",
    "ExperienceDataset",
    "MixedPolicy",
    "Policy",
    "RandomPolicy",
    "TwoRoomExpert",
    "WindowConfig",
    "WindowDataset",
    "collect",
    "collect_to_file",
    "write_dataset",
]
