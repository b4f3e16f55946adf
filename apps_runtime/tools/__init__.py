"""Tools for agents and tool nodes: providers per workspace (builtin, OpenAPI, MCP, workflow), one
registry that finds a DSL's tool in the app's workspace, and one way to call a tool (arguments
checked against its schema, output capped, every call audited).

Layout: ``models`` (providers and the call audit), ``services`` (writes), ``registry`` (which
providers and tools a workspace has; what an app needs), ``invoke`` (a call), one module per
provider kind (``builtin_time``, ``openapi``, ``mcp``, ``workflow``), ``admin``.
"""
