"""SyncFusion's video onset network: R(2+1)D-18 that keeps every frame.

The published network (shared/syncfusion/README.md) is torchvision's R(2+1)D-18
with its temporal striding removed, so a 30-frame clip comes out as 30 feature
vectors, and a small head turns each into one onset logit. Module names follow
the released Lightning checkpoint exactly (``model.net.model.stem.0.weight`` ...
``model.fc.2.bias``): the ``model.`` prefix is the Lightning module's attribute,
``net.model`` the backbone, ``fc`` the per-frame head.

``OnsetNetConfig.widths`` scales the channel counts: the published network is
``(64, 128, 256, 512)``; the ``tiny`` preset is the same architecture, narrow
enough to train for a few steps on a CPU in the test suite.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class OnsetNetConfig:
    """Shape of the network and of the clips it was trained on."""

    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    stem_mid: int = 45
    head_hidden: int = 128
    fps: float = 15.0
    size: int = 112
    window: int = 30  # frames per clip: 2 s at 15 fps
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "OnsetNetConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**kwargs)  # type: ignore[arg-type]


CONFIGS: dict[str, OnsetNetConfig] = {
    "syncfusion": OnsetNetConfig(),
    "tiny": OnsetNetConfig(widths=(8, 16, 32, 64), stem_mid=6, head_hidden=16),
}


def midplanes(inplanes: int, planes: int) -> int:
    """Channels between the spatial and temporal convolution of a (2+1)D block.

    R(2+1)D picks it so that the factorised pair has as many parameters as the
    full 3x3x3 convolution it replaces; the released key shapes (230, 460, 921 ...)
    come from this formula.
    """
    return (inplanes * planes * 27) // (inplanes * 9 + 3 * planes)


def conv2plus1d(inplanes: int, planes: int, mid: int, stride: int) -> nn.Sequential:
    """Spatial 1x3x3 then temporal 3x1x1; the temporal stride is always 1 here."""
    return nn.Sequential(
        nn.Conv3d(inplanes, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, planes, (3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
    )


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        mid = midplanes(inplanes, planes)
        self.conv1 = nn.Sequential(conv2plus1d(inplanes, planes, mid, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv2plus1d(planes, planes, mid, 1), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            # Spatial-only stride: the time axis must stay one step per frame.
            self.downsample = nn.Sequential(
                nn.Conv3d(inplanes, planes, 1, stride=(1, stride, stride), bias=False), nn.BatchNorm3d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + residual)


class Backbone(nn.Module):
    """R(2+1)D-18 trunk: (B, 3, T, H, W) -> (B, C, T), one feature per frame."""

    def __init__(self, cfg: OnsetNetConfig) -> None:
        super().__init__()
        w = cfg.widths
        self.stem = nn.Sequential(
            nn.Conv3d(3, cfg.stem_mid, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(cfg.stem_mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(cfg.stem_mid, w[0], (3, 1, 1), stride=1, padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(w[0]),
            nn.ReLU(inplace=True),
        )
        self.layer1 = nn.Sequential(BasicBlock(w[0], w[0]), BasicBlock(w[0], w[0]))
        self.layer2 = nn.Sequential(BasicBlock(w[0], w[1], 2), BasicBlock(w[1], w[1]))
        self.layer3 = nn.Sequential(BasicBlock(w[1], w[2], 2), BasicBlock(w[2], w[2]))
        self.layer4 = nn.Sequential(BasicBlock(w[2], w[3], 2), BasicBlock(w[3], w[3]))
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return x.mean(dim=(3, 4))


class _Trunk(nn.Module):
    """Holds the backbone as ``model`` so parameter names match the release."""

    def __init__(self, cfg: OnsetNetConfig) -> None:
        super().__init__()
        self.model = Backbone(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class VideoOnsetNet(nn.Module):
    """(B, 3, T, H, W) normalised RGB -> (B, T) onset logits, one per frame."""

    def __init__(self, cfg: OnsetNetConfig = OnsetNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = _Trunk(cfg)
        self.fc = nn.Sequential(nn.Linear(cfg.widths[3], cfg.head_hidden), nn.ReLU(inplace=True), nn.Linear(cfg.head_hidden, 1))
        for m in self.fc:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.net(x).transpose(1, 2)  # (B, T, C)
        return self.fc(features).squeeze(-1)


class OnsetModule(nn.Module):
    """The Lightning module's shape: the network lives under ``model``."""

    def __init__(self, cfg: OnsetNetConfig = OnsetNetConfig()) -> None:
        super().__init__()
        self.model = VideoOnsetNet(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
