"""Progress of a long run: networks and images done, images/s, time left; SIGINT / SIGTERM as a request to stop."""
import contextlib
import math
import signal
import time

import jax
import numpy as np
from absl import logging


SMOOTHING = 0.2  # weight of the latest call's rate in the time left's average


class Progress:
    """Counts networks and images across cohorts and logs a line per compiled call.

    The first call of each compiled program (a cohort size and a number of steps) compiles it: that
    call is reported apart, with its seconds, and left out of images/s and the time left, which come
    from the calls after it.
    """

    def __init__(self, total_networks: int, done_networks: int, images_total: int):
        self.total_networks, self.done_networks = total_networks, done_networks
        self.images_total, self.images_done = images_total, 0
        self.start = self._mark = time.perf_counter()
        self.steady_images, self.steady_seconds = 0, 0.0
        self._compiled, self._first_calls = set(), []
        self.last_call_rate = float("nan")  # images/s of the last call (nan for a call that compiled)
        self.smoothed_rate = float("nan")  # an exponential average of the calls' rates: the time left's

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def begin_calls(self) -> None:
        """Marks the start of a cohort's calls (its restore and set-up are not a call's time)."""
        self._mark = time.perf_counter()

    def announce(self, cohort: str, index: int, total: int, networks: int, model: str, step: int, steps: int,
                 fine_tuned: bool = False) -> None:
        """A line before a cohort's first call, which compiles its step (or reads it from the cache)."""
        start = (f"resuming at step {step}" if step else "fine-tuned from their parents" if fine_tuned
                 else "from scratch")
        logging.info("cohort %d of %d (%s): %d %s networks, %s; compiling its step (%d steps per call) unless the "
                     "compilation cache holds it", index, total, cohort, networks, model, start, steps)

    def rate(self) -> float:
        """Images/s of the calls that did not compile (nan before the first such call)."""
        return self.steady_images / self.steady_seconds if self.steady_seconds else float("nan")

    def compile_seconds(self) -> float:
        """Estimated seconds spent compiling: each first call's time beyond the steady rate's."""
        rate = self.rate()
        return sum(max(0.0, s - (0 if math.isnan(rate) else images / rate)) for s, images in self._first_calls)

    def log(self, cohort: str, step: int, iterations: int, images: int, chunk_metrics: dict, steps: int = 0) -> None:
        """One line after a compiled call of `steps` steps: where the run is, its rate and the time left."""
        jax.block_until_ready(chunk_metrics)  # the call is dispatched asynchronously: time its end
        now = time.perf_counter()
        seconds, self._mark = now - self._mark, now
        self.images_done += images
        where = f"{cohort} step {step}/{iterations} | networks {self.done_networks}/{self.total_networks}"
        losses = (_finite_mean(chunk_metrics["loss"]), _finite_mean(chunk_metrics["accuracy"]))
        program = (np.shape(chunk_metrics["loss"]), steps)
        self.last_call_rate = images / seconds if program in self._compiled and seconds > 0 else float("nan")
        if program not in self._compiled:
            self._compiled.add(program)
            self._first_calls.append((seconds, images))
            logging.info("%s | compiled, then ran %d steps: %.1f s | train loss %.3f acc %.3f", where, steps,
                         seconds, *losses)
            return
        self.steady_images += images
        self.steady_seconds += seconds
        call_rate = images / max(seconds, 1e-9)
        self.smoothed_rate = call_rate if math.isnan(self.smoothed_rate) else (
            SMOOTHING * call_rate + (1 - SMOOTHING) * self.smoothed_rate)
        logging.info("%s | %.0f img/s | train loss %.3f acc %.3f | %s left", where, self.rate(), *losses,
                     duration((self.images_total - self.images_done) / max(self.smoothed_rate, 1e-9)))


class EvaluationProgress:
    """A line per evaluated cohort: networks done of those to evaluate, and the time left at the rate so far."""

    def __init__(self, total_networks: int):
        self.total, self.done, self.start = total_networks, 0, time.perf_counter()

    def log(self, cohort: str, networks: int, rows: int) -> None:
        """After a cohort's evaluation."""
        self.done += networks
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        logging.info("evaluated %s (%d networks, %d rows) | %d/%d networks evaluated | %s left", cohort, networks, rows,
                     self.done, self.total, duration(left))


def _finite_mean(values) -> float:
    """The mean over networks that have not diverged (nan when none is left)."""
    values = np.asarray(values)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def duration(seconds: float) -> str:
    """'1h05m' or '3m07s'."""
    seconds = int(math.ceil(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Interrupted(Exception):
    """A run stopped on SIGINT / SIGTERM after saving the cohort in flight."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class StopRequest:
    """Set by SIGINT / SIGTERM while training: the loop saves at the end of the current call and stops."""

    def __init__(self):
        self.signum = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def stop_on_signals():
    """Within the block, SIGINT and SIGTERM set the yielded StopRequest instead of killing the process;
    a second signal interrupts at once."""
    request = StopRequest()
    previous = {}

    def handler(signum, frame):
        if request:  # asked twice: stop now
            signal.signal(signum, previous[signum])
            raise KeyboardInterrupt
        request.signum = signum
        logging.warning("%s received: saving the cohort in flight at the end of this call",
                        signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield request
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
