"""The transformers backend of the scorer: a forward pass, batches of similar length, padded right.

Padding after a sequence cannot change its logits (the model is causal), so batching is exact.
"""

from __future__ import annotations

from prm.scoring.base import Scorer


class HFScorer(Scorer):
    """Longest samples first, batched up to `max_batch_tokens` padded tokens or `max_batch_size` rows."""

    backend = "transformers"

    def __init__(self, model_dir, max_length=None, *, device: str | None = None, dtype: str = "float32",
                 max_batch_tokens: int = 16384, max_batch_size: int = 64, format: str | None = None,
                 sep: str | None = None):
        super().__init__(model_dir, max_length, format=format, sep=sep)
        import torch

        from prm.scoring.heads import LOADERS

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._forward, self.model = LOADERS[self.fmt.model](self.model_dir, getattr(torch, dtype), self.fmt,
                                                            self.tokenizer)
        self.model = self.model.to(self.device).eval()
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _logits(self, ids, progress=False):
        import torch
        from tqdm import tqdm

        from prm.scoring.base import length_batches

        batches = length_batches(ids, self.max_batch_tokens, self.max_batch_size)
        out = [None] * len(ids)
        with torch.inference_mode():
            for b in tqdm(batches, desc="score", unit="batch", disable=not progress):
                width = len(ids[b[0]])
                x = torch.full((len(b), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(b), width), dtype=torch.long)
                for r, i in enumerate(b):
                    x[r, :len(ids[i])] = torch.tensor(ids[i])
                    mask[r, :len(ids[i])] = 1
                lg = self._forward(x.to(self.device), mask.to(self.device))
                lg = lg.float().cpu().numpy()
                for r, i in enumerate(b):
                    out[i] = lg[r, :len(ids[i])]
        return out

    def close(self):
        self.model = self._forward = None
