"""The read side: ClickHouse schema and migrations, the warehouse interface with its two
backends (chDB embedded, ClickHouse server), and the projector logic that turns events into
read-model rows. Imports `touchstream.events`, never `touchstream.services`."""
