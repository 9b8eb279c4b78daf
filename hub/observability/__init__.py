"""How the hub process shows itself to operators: logs, metrics exposition, traces, request ids.

One module per concept: ``logs`` (structlog, JSON or text, secrets scrubbed), ``requests`` (the
request id and trace id of every line), ``metrics`` (``/metrics``, multiprocess), ``tracing``
(OpenTelemetry from the OTEL_* variables). The metric definitions themselves live in ``telemetry/``,
where every layer may record them. docs/operations.md, "Metrics, traces and logs".
"""
