"""A tiny MCP server written with the official SDK, for tests/test_tools.py: two tools, `count_notes` (read-only, says
so with `readOnlyHint`) and `add_note` (keeps a note). Over stdio: `python tests/mcp_server.py [VARIANT_FILE]`; over
streamable HTTP: serve `build().streamable_http_app()`. A variant file holding `2` gives `add_note` a required `tag`
argument: the same server, a changed schema."""
import sys
from pathlib import Path
from typing import Any
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations


def build(variant: int = 1) -> MCPServer:
    "The server; its notes live as long as the process (or the app)."
    mcp, notes = MCPServer("test-notes", log_level="WARNING"), []

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    def count_notes(tag: str = "") -> dict[str, Any]:
        "How many notes there are (with a tag, or all)."
        return {"count": sum(1 for n in notes if not tag or n["tag"] == tag)}

    def keep(text: str, tag: str) -> str:
        if not text.strip(): raise ToolError("an empty note cannot be kept")      # a message meant for the caller
        notes.append({"text": text, "tag": tag})
        return f"note {len(notes)} kept" + (f" [{tag}]" if tag else "")

    if variant == 1:
        @mcp.tool()
        def add_note(text: str) -> str:
            "Keep a note."
            return keep(text, "")
    else:
        @mcp.tool()
        def add_note(text: str, tag: str) -> str:
            "Keep a note under a tag."
            return keep(text, tag)
    return mcp


if __name__ == "__main__":
    build(int(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else 1).run()
