"""Streaming: JSON Lines files tailed into a sessions table, exactly once across crashes."""

from runtime.streaming.runner import StreamProgress, run_stream

__all__ = ["StreamProgress", "run_stream"]
