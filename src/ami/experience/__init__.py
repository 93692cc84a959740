"""Experience: the HDF5 dataset format, T-step training windows and collection policies.

Collection policies: the worlds' scripted experts, `RandomPolicy`, and for any world the
explorers `HeldRandomPolicy`, `ColoredNoisePolicy` and `NoveltyPolicy`; a user's own policy is
named `module:callable` (`load_user_policy`).

Example:
    >>> from ami.experience import CollectConfig, collect
    >>> config = CollectConfig(world="two_room", episodes=2, steps_per_episode=5, policy="expert")
    >>> [episode.pixels.shape for episode in collect(config, progress=False)]
    [(6, 64, 64, 3), (6, 64, 64, 3)]
"""

from ami.experience.collect import CollectConfig, collect, collect_to_file
from ami.experience.dataset import Episode, ExperienceDataset, write_dataset
from ami.experience.exploration import ColoredNoisePolicy, HeldRandomPolicy, powerlaw_noise
from ami.experience.novelty import NoveltyPolicy
from ami.experience.policies import MixedPolicy, Policy, RandomPolicy, TwoRoomExpert
from ami.experience.user_policy import load_user_policy
from ami.experience.windows import WindowConfig, WindowDataset

__all__ = [
    "CollectConfig",
    "ColoredNoisePolicy",
    "Episode",
    "ExperienceDataset",
    "HeldRandomPolicy",
    "MixedPolicy",
    "NoveltyPolicy",
    "Policy",
    "RandomPolicy",
    "TwoRoomExpert",
    "WindowConfig",
    "WindowDataset",
    "collect",
    "collect_to_file",
    "load_user_policy",
    "powerlaw_noise",
    "write_dataset",
]
