"""Touchstream's runnables: the ingest gateway, the stream processors, the HTTP surfaces, the
embedded runtime and the CLI. They compose `touchstream.events` and `touchstream.projections`."""
