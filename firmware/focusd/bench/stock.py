"""The stock Raspberry Pi contrast AF (libcamera's ``rpi.af``, CDAF path) as a benchmark baseline.

focusd's speed claims are ratios against what the Pi does out of the box, so this module rebuilds
that algorithm from its documented behaviour (docs/device-facts.md, "Stock contrast AF") and
libcamera's ``src/ipa/rpi/controller/rpi/af.cpp``, behind the same frame-in/target-out interface as
``focusd.af.AutofocusEngine``, so the bench drives it on the very same simulated frames.

What is modelled, step by step as af.cpp does it (one ``update`` = one IPA ``prepare``+``process``):

- a triggered scan starts at the range minimum (infinity) and steps nearer by ``step_coarse``;
  every lens move is slew-limited to ``max_slew`` D per frame; after each step the algorithm waits
  ``step_frames`` frames, then samples; the first ``skip_frames`` frames after the start are skipped;
- the contrast used in ``prepare(n)`` is the statistic of frame n-1 (af.cpp reads ``prevContrast_``
  because the ISP statistics of frame n only arrive in ``process(n)``): one frame of lag, modelled;
- the coarse scan ends when the contrast falls below ``contrast_ratio`` x the maximum seen (or at the
  range maximum); the peak is af.cpp's ``findPeak`` (its 3-point interpolation, the "parabola");
- normal speed then runs a fine scan of ``fine_samples`` samples ``step_fine`` apart around the peak
  and moves to the fine peak; fast speed (``step_fine`` = 0) moves straight to the coarse peak;
- after the final move and ``step_frames`` frames of settling it reports FOCUSED only if the last
  contrast is >= ``contrast_ratio`` x max and the scan's minimum was <= ``contrast_ratio`` x max,
  otherwise FAILED.

Decisions (documented, each generous to the stock algorithm, so focusd's ratios are lower bounds):

- Frames are counted at the sensor frame rate with the stock step counts as documented, i.e. as if
  the IPA ran on every sensor frame. On a device the IPA runs at <= 30 Hz, so in the 56 fps focusing
  mode every step costs twice as many sensor frames; ``StockTuning.frames_per_ipa_run = 2`` models
  that and roughly doubles the counts. This gives the documented ~45 frames to 1 m (normal) and
  ~20-25 (fast).
- The fine scan follows af.cpp as it is since libcamera's commit ea5f451c (June 2025; see
  docs/device-facts.md, "Stock contrast AF"): 3 samples at peak + fine step, peak, peak - fine
  step; fast speed has no fine scan. Before that commit af.cpp started the fine scan at peak + 2
  fine steps and took up to 5 samples, and with ``step_fine`` = 0 it re-sampled the same position
  5 times: that costs 6-12 more frames per scan; ``StockTuning(libcamera_exact=True)`` selects it.
- PDAF is not modelled (the simulator has no phase data): this is the CDAF path af.cpp takes when
  phase data are missing or untrustworthy (the "dropout" fall-back to a programmed scan).
- The statistic is ``stock_focus_fom``: the ISP's FocusFoM is a sum of squared high-pass filter
  responses over the focus regions inside the AF window (default: middle half of the width, middle
  third of the height). We compute the same kind of sum on the lores Y plane. The ISP works at the
  sensor mode's resolution (3x the lores width here), where the focus curve is narrower; on lores
  the curve is broader, which can end the coarse scan one step later than on a device.
- Continuous mode is accepted but runs one programmed scan (af.cpp's continuous mode relies on
  PDAF); the bench compares single-shot focusing only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np

from focusd.af.tuning import STOCK_WINDOW  # libcamera's default AF window (x, y, w, h) fractions
from focusd.af.types import AfMode, AfState, Frame


@dataclass(frozen=True)
class StockSpeed:
    """One ``speeds`` entry of the stock imx708 tuning (``rpi.af``)."""

    step_coarse: float  #: D between coarse samples
    step_fine: float  #: D between fine samples; 0 = no fine scan
    contrast_ratio: float  #: a scan ends when contrast < ratio x max
    max_slew: float  #: D the lens may move per algorithm run
    step_frames: int  #: algorithm runs to wait after each step before sampling


#: imx708.json "speeds": "normal" and "fast"
STOCK_SPEEDS = {
    "normal": StockSpeed(step_coarse=1.0, step_fine=0.25, contrast_ratio=0.75, max_slew=1.5, step_frames=5),
    "fast": StockSpeed(step_coarse=1.25, step_fine=0.0, contrast_ratio=0.75, max_slew=2.0, step_frames=4),
}


@dataclass(frozen=True)
class StockTuning:
    """Everything the stock baseline needs besides its speed; defaults as imx708.json / af.cpp."""

    skip_frames: int = 5  #: algorithm runs ignored after the start (cfg "skip_frames")
    fine_samples: int = 3  #: fine-scan samples (af.cpp: 3; before June 2025: up to 5)
    fine_start_steps: int = 1  #: fine steps past the peak the fine scan starts (af.cpp: 1; before June 2025: 2)
    frames_per_ipa_run: int = 1  #: sensor frames per algorithm run (1: generous; 2: 56 fps on a Pi)
    window: tuple[float, float, float, float] = STOCK_WINDOW  #: (x, y, w, h) fractions
    libcamera_exact: bool = False  #: af.cpp's fine scan before June 2025 (5 samples from peak+2 steps)

    def effective(self) -> "StockTuning":
        if self.libcamera_exact:
            return replace(self, fine_samples=5, fine_start_steps=2)
        return self


def cut_window(y: np.ndarray, window: tuple[float, float, float, float]) -> np.ndarray:
    """The (x, y, w, h)-fraction window of a 2-D plane (at least 3x3 pixels)."""
    height, width = y.shape
    x0 = int(round(window[0] * width))
    y0 = int(round(window[1] * height))
    x1 = max(x0 + 3, int(round((window[0] + window[2]) * width)))
    y1 = max(y0 + 3, int(round((window[1] + window[3]) * height)))
    return y[y0:y1, x0:x1]


def stock_focus_fom(y: np.ndarray, window: tuple[float, float, float, float] = STOCK_WINDOW) -> float:
    """An approximation of the ISP's FocusFoM: the mean squared response of a horizontal and a
    vertical [-1, 2, -1] high-pass filter over the AF window (the ISP filters rows of the Bayer
    green channel at the mode resolution; we use the lores Y plane)."""
    region = cut_window(y, window).astype(np.float32)
    horizontal = 2.0 * region[:, 1:-1] - region[:, :-2] - region[:, 2:]
    vertical = 2.0 * region[1:-1, :] - region[:-2, :] - region[2:, :]
    return float(np.mean(horizontal * horizontal) + np.mean(vertical * vertical))


class _Scan(enum.IntEnum):
    # ordered as af.cpp's ScanState, whose comparisons (>= COARSE) this code keeps
    IDLE = 0
    TRIGGER = 1
    COARSE = 3
    FINE = 4
    SETTLE = 5


class StockCdaf:
    """The stock Pi CDAF: ``StockCdaf(speed="normal" | "fast")``, same interface as the engine.

    ``lens_range`` is the AF range in dioptres (stock "normal": 0-12); ``latency_frames`` is
    accepted for interface parity and ignored: the stock algorithm does not know the lens latency,
    its ``step_frames`` wait covers it.
    """

    def __init__(
        self,
        speed: str = "normal",
        lens_range: tuple[float, float] = (0.0, 12.0),
        latency_frames: int = 2,
        tuning: StockTuning | None = None,
    ):
        if speed not in STOCK_SPEEDS:
            raise ValueError(f"stock AF speed must be one of {sorted(STOCK_SPEEDS)}, not {speed!r}")
        self.speed = STOCK_SPEEDS[speed]
        self.tuning = (tuning or StockTuning()).effective()
        self.window = self.tuning.window
        self.lens_range = (float(lens_range[0]), float(lens_range[1]))
        self.latency_frames = latency_frames
        self._state = AfState.IDLE
        self._scan = _Scan.IDLE
        self._reset(1.0)

    def _reset(self, lens_position: float) -> None:
        self._fsmooth = float(lens_position)  # where the lens is commanded to (af.cpp fsmooth_)
        self._ftarget = float(lens_position)  # where the algorithm wants it (ftarget_)
        self._prev_contrast = 0.0
        self._skip = 0
        self._step_count = 0
        self._max_contrast = 0.0
        self._min_contrast = 1.0e9
        self._max_index = 0
        self._data: list[tuple[float, float]] = []  # (focus, contrast) of the current scan phase
        self._frames = 0

    @property
    def state(self) -> AfState:
        return self._state

    def start(self, mode: AfMode, lens_position: float) -> None:
        self._reset(lens_position)
        self._scan = _Scan.TRIGGER
        self._state = AfState.SCANNING
        self._skip = self.tuning.skip_frames

    def stop(self) -> None:
        self._scan = _Scan.IDLE
        self._state = AfState.IDLE
        self._data.clear()

    def update(self, frame: Frame) -> float | None:
        if self._scan == _Scan.IDLE:
            return None
        self._frames += 1
        if (self._frames - 1) % self.tuning.frames_per_ipa_run:
            return None  # the IPA skips this frame (runs at <= 30 Hz); statistics repeat
        commanded = self._fsmooth
        # prepare(): the decision uses the previous frame's statistics
        if self._scan == _Scan.TRIGGER:
            self._start_programmed_scan()
        self._do_af(self._prev_contrast)
        self._update_lens_position()
        # process(): this frame's statistics, used by the next run
        self._prev_contrast = stock_focus_fom(frame.y, self.window)
        return self._fsmooth if self._fsmooth != commanded else None

    # --- af.cpp, CDAF path -------------------------------------------------------------------

    def _start_programmed_scan(self) -> None:
        self._ftarget = self.lens_range[0]
        self._update_lens_position()
        self._scan = _Scan.COARSE
        self._max_contrast = 0.0
        self._min_contrast = 1.0e9
        self._max_index = 0
        self._data = []
        self._step_count = self.speed.step_frames

    def _update_lens_position(self) -> None:
        if self._scan >= _Scan.COARSE:
            self._ftarget = min(max(self._ftarget, self.lens_range[0]), self.lens_range[1])
        slew = self.speed.max_slew
        self._fsmooth = min(max(self._ftarget, self._fsmooth - slew), self._fsmooth + slew)

    def _do_af(self, contrast: float) -> None:
        if self._skip > 0:
            self._skip -= 1
            return
        if self._scan >= _Scan.COARSE and self._fsmooth == self._ftarget:
            if self._step_count > 0:
                self._step_count -= 1
            elif self._scan == _Scan.SETTLE:
                ratio = self.speed.contrast_ratio
                good = contrast >= ratio * self._max_contrast and self._min_contrast <= ratio * self._max_contrast
                self._state = AfState.FOCUSED if good else AfState.FAILED
                self._scan = _Scan.IDLE
                self._data.clear()
            else:
                self._do_scan(contrast)

    def _find_peak(self, index: int) -> float:
        """af.cpp ``findPeak``: move from the best sample towards the better neighbour."""
        data = self._data
        focus = data[index][0]
        if 0 < index < len(data) - 1:
            drop_lo = data[index][1] - data[index - 1][1]
            drop_hi = data[index][1] - data[index + 1][1]
            if 0.0 <= drop_lo < drop_hi:
                param = 0.3125 * (1.0 - drop_lo / drop_hi) * (1.6 - drop_lo / drop_hi)
                focus += param * (data[index - 1][0] - focus)
            elif 0.0 <= drop_hi < drop_lo:
                param = 0.3125 * (1.0 - drop_hi / drop_lo) * (1.6 - drop_hi / drop_lo)
                focus += param * (data[index + 1][0] - focus)
        return focus

    def _do_scan(self, contrast: float) -> None:
        speed = self.speed
        if not self._data or contrast > self._max_contrast:
            self._max_contrast = contrast
            self._max_index = len(self._data)
        if contrast < self._min_contrast:
            self._min_contrast = contrast
        self._data.append((self._ftarget, contrast))

        if self._scan == _Scan.COARSE:
            if self._ftarget >= self.lens_range[1] or contrast < speed.contrast_ratio * self._max_contrast:
                peak = self._find_peak(self._max_index)
                if speed.step_fine > 0.0 or self.tuning.libcamera_exact:
                    # af.cpp: jump just beyond the peak and scan back towards infinity
                    self._ftarget = min(self._ftarget, peak + self.tuning.fine_start_steps * speed.step_fine)
                    self._scan = _Scan.FINE
                    # the sample list restarts, and with it (af.cpp: "scanData_.empty() ||")
                    # the maximum: the fine scan's first sample becomes the new maximum
                    self._data = []
                else:
                    # fast speed: no fine scan, straight to the coarse peak and settle
                    self._ftarget = peak
                    self._scan = _Scan.SETTLE
            else:
                self._ftarget += speed.step_coarse
        else:  # FINE
            if (
                self._ftarget <= self.lens_range[0]
                or len(self._data) >= self.tuning.fine_samples
                or contrast < speed.contrast_ratio * self._max_contrast
            ):
                self._ftarget = self._find_peak(self._max_index)
                self._scan = _Scan.SETTLE
            else:
                self._ftarget -= speed.step_fine
        self._step_count = 0 if self._ftarget == self._fsmooth else speed.step_frames
