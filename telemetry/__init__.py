"""What the hub tells its operators about itself: metric definitions and span helpers.

The bottom layer, like ``keys/``: every layer may import it, and it imports nothing of the project.
Metrics are defined here once and recorded through small functions named after the moment; the hub
(``hub/observability/``) decides how they are exposed (``/metrics``, multiprocess) and whether spans
go anywhere (OpenTelemetry, off by default). See docs/operations.md, "Metrics, traces and logs".
"""
