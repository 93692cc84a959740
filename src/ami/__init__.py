"""ami: agents that learn a JEPA world model from pixels and plan in its latent space."""

__version__ = "0.1.0"
