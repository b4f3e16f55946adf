"""Names and limits of the DSL layer (dsl.md §1, §2)."""

from __future__ import annotations

from apps_runtime.models import AppMode

# The newest app DSL version this service reads and writes (Dify's CURRENT_APP_DSL_VERSION).
CURRENT_DSL_VERSION = "0.6.0"
# What Dify assumes when a file has no ``version``.
DEFAULT_DSL_VERSION = "0.1.0"

# Modes a DSL file may declare (``channel`` and ``rag-pipeline`` are app modes without an app DSL).
IMPORTABLE_MODES: tuple[str, ...] = (
    AppMode.WORKFLOW,
    AppMode.ADVANCED_CHAT,
    AppMode.CHAT,
    AppMode.COMPLETION,
    AppMode.AGENT_CHAT,
)

ICON_TYPES = frozenset({"emoji", "image", "link"})
DEFAULT_ICON_TYPE = "emoji"
DEFAULT_ICON_BACKGROUND = "#FFFFFF"

# Roots of a graph: the start node, or (newer workflow apps) a trigger node.
ROOT_NODE_TYPES = frozenset({"start", "trigger-webhook", "trigger-schedule", "trigger-plugin"})
# The node a run must be able to reach, per mode.
TERMINAL_NODE_TYPE: dict[str, str] = {AppMode.WORKFLOW: "end", AppMode.ADVANCED_CHAT: "answer"}
# Node wrappers (``node.type``) that are canvas decoration, not part of the graph.
NOTE_WRAPPER_TYPES = frozenset({"custom-note"})

# Import limit: a document that expands (through YAML aliases) into more values than any real app
# has is refused. The byte limits (file and expansion) are settings: MAX_DSL_BYTES and
# MAX_DSL_EXPANDED_BYTES.
MAX_DSL_VALUES = 1_000_000

# Keys of the ``app`` block that are App fields; the others are kept in ``App.dsl_extra["app"]``.
APP_MODEL_KEYS = ("name", "mode", "description", "icon", "icon_type", "icon_background")
# Keys of the ``workflow`` block that are WorkflowVersion fields; the rest go to ``extra``.
WORKFLOW_MODEL_KEYS = ("graph", "features", "environment_variables", "conversation_variables")
