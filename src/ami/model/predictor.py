"""The action-conditioned predictor: `z [B, T, D]`, `a [B, T, A]` → `z_next [B, T, D]`, causal in T.

The last `history` embeddings are concatenated and passed through residual MLP blocks whose
LayerNorm is modulated by the action (AdaLN-zero: a shift, a scale and a gate, all initialised to
zero, so each block starts as the identity — the action conditioning of DiT and LeWM). The output
is added to the current embedding: the predictor learns the change. The prediction at t reads only
`z[t−history+1 … t]` and `a[t]`, so it is causal by construction.

Without actions (`a = None`: learning from video, `TrainConfig.actions = "none"`) the action
path is skipped: each block runs unmodulated (`x + mlp(norm(x))`), so the prediction cannot
depend on any action and the action embedding and modulation take no part in the loss.

This design was chosen over LeWM's causal transformer for speed on a CPU: planning rolls out
hundreds of candidates step by step, and the per-step cost here is a few small matrix products
(the action modulations of all H steps are computed in one batched call up front).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ami.config import require_positive


@dataclass(frozen=True)
class PredictorConfig:
    """Shape of the predictor.

    Attributes:
        embed_dim: D.
        action_dim: A at the model level (k·A_env with action blocks of k env steps).
        history: embeddings the prediction at t reads (t−history+1 … t).
        hidden: width of the blocks.
        depth: number of blocks.
    """

    embed_dim: int = 64
    action_dim: int = 2
    history: int = 1
    hidden: int = 256
    depth: int = 3

    def __post_init__(self) -> None:
        for name in ("embed_dim", "action_dim", "history", "hidden", "depth"):
            require_positive("PredictorConfig", name, getattr(self, name))

    @property
    def parameter_count(self) -> int:
        """Parameters of the predictor built from this config, counted without building it."""
        width, depth, embed = self.hidden, self.depth, self.embed_dim
        count = self.action_dim * width + width + width * width + width  # action embedding
        count += width * 3 * depth * width + 3 * depth * width  # modulation
        count += self.history * embed * width + width  # input
        count += depth * 2 * (width * width + width)  # blocks
        return count + 2 * width + width * embed + embed  # output: LayerNorm, linear


class AdaLNZeroBlock(nn.Module):
    """Pre-norm residual MLP block whose norm is shifted, scaled and gated by a modulation."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, x: Tensor, modulation: Tensor | None) -> Tensor:
        """`x [..., W]`, `modulation [..., 3W]` (shift, scale, gate) → `[..., W]`.

        Without a modulation (no actions) the block is a plain pre-norm residual MLP.
        """
        if modulation is None:
            return x + self.mlp(self.norm(x))
        shift, scale, gate = modulation.chunk(3, dim=-1)
        return x + gate * self.mlp(self.norm(x) * (1 + scale) + shift)


class MLPPredictor(nn.Module):
    """Residual AdaLN-zero MLP over the last `history` embeddings."""

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        self.config = config
        width = config.hidden
        self.action_embed = nn.Sequential(
            nn.Linear(config.action_dim, width), nn.GELU(), nn.Linear(width, width)
        )
        # One linear map gives every block's (shift, scale, gate); zero-initialised (AdaLN-zero).
        self.modulation = nn.Linear(width, config.depth * 3 * width)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.input = nn.Linear(config.history * config.embed_dim, width)
        self.blocks = nn.ModuleList(AdaLNZeroBlock(width) for _ in range(config.depth))
        self.output = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, config.embed_dim))

    def modulations(self, a: Tensor | None) -> Tensor | None:
        """Per-block modulations of actions `a [..., A]` → `[..., depth, 3W]` (None without)."""
        if a is None:
            return None
        mods = self.modulation(self.action_embed(a))
        return mods.unflatten(-1, (self.config.depth, 3 * self.config.hidden))

    def step(self, context: Tensor, mods: Tensor | None) -> Tensor:
        """One prediction from `context [..., history, D]` (oldest first) and modulations.

        Args:
            context: `[..., history, D]` embeddings, oldest first.
            mods: `[..., depth, 3W]` from `modulations`, or None (no actions).

        Returns:
            `z_next [..., D]`.
        """
        x = self.input(context.flatten(-2))
        for index, block in enumerate(self.blocks):
            x = block(x, None if mods is None else mods[..., index, :])
        return context[..., -1, :] + self.output(x)

    def forward(self, z: Tensor, a: Tensor | None) -> Tensor:
        """Predict the next embedding at every time step.

        Args:
            z: `[B, T, D]` embeddings.
            a: `[B, T, A]` actions taken after each embedding, or None (action-free).

        Returns:
            `z_next [B, T, D]`; entry t depends only on `z[:, :t+1]` and `a[:, t]`.
        """
        return self.step(history_windows(z, self.config.history), self.modulations(a))

    def rollout(self, window: Tensor, actions: Tensor | None, horizon: int) -> Tensor:
        """Autoregressive imagination from `window [N, history, D]` for `horizon` steps.

        Args:
            window: `[N, history, D]` embeddings, oldest first.
            actions: `[N, H, A]` with `H == horizon`, or None (action-free).
            horizon: H, the steps imagined.

        Returns:
            `z_future [N, H, D]`.
        """
        mods = self.modulations(actions)  # [N, H, depth, 3W], one batched call for all steps
        futures = []
        for h in range(horizon):
            z_next = self.step(window, None if mods is None else mods[:, h])
            futures.append(z_next)
            window = torch.cat([window[:, 1:], z_next.unsqueeze(1)], dim=1)
        return torch.stack(futures, dim=1)


def history_windows(z: Tensor, history: int) -> Tensor:
    """`z [B, T, D]` → `[B, T, history, D]`: at t the embeddings t−history+1 … t, oldest first.

    Before the start of the sequence the first embedding is repeated.
    """
    if history == 1:
        return z.unsqueeze(2)
    padded = torch.cat([z[:, :1].expand(-1, history - 1, -1), z], dim=1)
    return padded.unfold(1, history, 1).transpose(-1, -2)
