"""The compile-time halves of the built-in engines, one module each (see `engine_sdk`).

Each registers through the `flowforge.engines` entry points like any other engine's; their
executors live in `runtime.executors` and load only when a connection opens."""
