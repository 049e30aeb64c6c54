"""The lifecycles: observe -> plan -> apply for whatever one trigger says to look at.

The context they share (context: settings, clients, ledger, organization directory, outbox, the
policy read once, ``locate``), the request lifecycle (request), routes and DNS of an active
connection (configure), what a dead connection leaves behind (cleanup), an operator's event checked
(operator), the ``Engine`` that joins them (engine), and the handler every event-driven function
runs its work in: typed errors turned into a log line, a metric and an answer, or a retry
(handler). It may import the core, the runtime and the adapters; not the map or the sweep.
"""
