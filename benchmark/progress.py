"""Report a run's progress: a progress bar and one log line per finished task."""

from __future__ import annotations

import contextlib
import logging
import sys
from types import TracebackType

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from benchmark.evaluation import TaskResult

__all__ = ["RunProgress"]

logger = logging.getLogger("benchmark.runner")

# Seconds between bar updates when stderr is not a terminal, such as a log
# file, where each update adds text instead of redrawing the bar.
LOG_UPDATE_INTERVAL = 30.0


class RunProgress:
    """A progress bar of finished tasks out of ``total``, with failures and ETA.

    The bar shows done/total, elapsed time, the estimated time left and the
    rate; its suffix counts failed and retried tasks. While the bar is shown,
    log records go through ``tqdm.write`` so that they do not break it. When
    stderr is not a terminal, the bar is written at most every
    :data:`LOG_UPDATE_INTERVAL` seconds.
    """

    def __init__(self, total: int, show: bool = True) -> None:
        self.failed = 0
        self.retried = 0
        self._show = show
        self._bar = tqdm(
            total=total,
            desc="tasks",
            unit="task",
            disable=not show,
            dynamic_ncols=True,
            mininterval=0.1 if sys.stderr.isatty() else LOG_UPDATE_INTERVAL,
        )
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> RunProgress:
        if self._show:
            self._stack.enter_context(logging_redirect_tqdm())
        self._stack.enter_context(self._bar)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def task_finished(self, result: TaskResult) -> None:
        """Log one line for a finished or failed task and advance the bar."""
        if result.status != "ok":
            self.failed += 1
            logger.warning(
                "failed: dataset=%s sampler=%s classifier=%s repeat=%d fold=%d: %s",
                result.dataset,
                result.sampler,
                result.classifier,
                result.repeat,
                result.fold,
                result.error,
            )
        else:
            logger.info(
                "done: dataset=%s sampler=%s classifier=%s repeat=%d fold=%d "
                "on %s in %.1fs",
                result.dataset,
                result.sampler,
                result.classifier,
                result.repeat,
                result.fold,
                result.device,
                result.duration,
            )
        self._bar.update()
        self._set_postfix(f"last={result.dataset}/{result.sampler}")

    def task_retried(self, reason: str, description: str) -> None:
        """Log a task that runs again because its worker died."""
        self.retried += 1
        logger.warning(
            "%s; running it again in a fresh worker: %s", reason, description
        )
        self._set_postfix()

    def _set_postfix(self, last: str = "") -> None:
        text = f"failed={self.failed}"
        if self.retried:
            text += f" retried={self.retried}"
        if last:
            text += f" {last}"
        self._bar.set_postfix_str(text, refresh=False)
