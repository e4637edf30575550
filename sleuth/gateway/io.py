"""Where blocking Datadog calls run: their own pool, so that slow calls of cancelled activities can
never starve the threads that publishing or other investigations need."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

DATADOG_IO = ThreadPoolExecutor(max_workers=64, thread_name_prefix="sleuth-datadog")


async def in_io_thread(fn: Callable[..., T], *args: Any) -> T:
    # Copy the context so tracing spans opened by the caller stay the parents of spans made in the thread.
    ctx = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(DATADOG_IO, partial(ctx.run, fn, *args))
