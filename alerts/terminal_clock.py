"""A terminal's clock offset, learned from its own messages: its recent
delays, trusted once they agree (README, "Wrong clocks, future dates and
replay storms")."""

from __future__ import annotations

from datetime import datetime

from alerts.elevator_state import Elevator
from semon.settings import AlertSettings


def observe_clock(cfg: AlertSettings, car: Elevator, ts: datetime, now: datetime) -> None:
    """Learn the car's terminal clock offset from a message whose newest
    device time is ``ts``, received at ``now``."""
    if cfg.skew_samples <= 0:
        return  # learning is off: every terminal's clock is taken as right
    rx = now.timestamp()
    delay = rx - ts.timestamp()
    obs = car.delays
    if obs and rx - obs[-1][0] < cfg.skew_confirm_s / max(1, cfg.skew_samples - 1):
        # Messages close together count once (the least delayed): a burst
        # is one look at the clock, and a terminal sending often must
        # still span skew_confirm_s with skew_samples looks.
        obs[-1] = (obs[-1][0], min(obs[-1][1], delay))
    else:
        obs.append((rx, delay))
        if len(obs) > cfg.skew_samples:
            del obs[0]
    if len(obs) < cfg.skew_samples or rx - obs[0][0] < cfg.skew_confirm_s:
        return
    delays = [d for _, d in obs]
    lo = min(delays)
    if max(delays) - lo <= cfg.skew_jitter_s:
        # The smallest delay: the clock's offset plus the least transport time.
        car.clock_offset_s = lo if abs(lo) >= cfg.skew_ignore_s else 0.0
        car.clock_known = True
