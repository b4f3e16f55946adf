"""``http-request`` (dsl.md §4.8): the request and response rules live in ``http_spec`` (sent
through the SSRF-safe ``outbound``); this node binds them to the run's variable pool, templates
and size settings."""

from __future__ import annotations

from django.conf import settings

from apps_runtime.engine.http_spec import HttpNodeError, build_request, check_status, send
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.templates import render


@register("http-request")
class HttpRequestNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        try:
            spec = build_request(self.data, lambda text: render(text, ctx.pool), ctx.pool.get)
            outputs = send(
                spec,
                max_text_bytes=settings.HTTP_NODE_MAX_TEXT_BYTES,
                max_binary_bytes=settings.HTTP_NODE_MAX_BINARY_BYTES,
                should_stop=ctx.host.should_stop,
            )
            # A non-2xx answer fails the node only when it has retry or an error strategy.
            check_status(outputs, self.data)
        except HttpNodeError as exc:
            raise NodeFailed(str(exc), exc.error_type) from None
        return NodeResult(
            inputs={
                "method": spec.method,
                "url": spec.url,
                "headers": spec.shown_headers(),
                "params": spec.params,
            },
            process_data={
                "request": f"{spec.method} {spec.url}",
                "status_code": outputs["status_code"],
            },
            outputs=outputs,
        )
