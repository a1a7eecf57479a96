"""The two shapes ComfyUI saves a node graph in, and the small vocabulary to read them.

* ``prompt``, the executed "API" graph: ``{node_id: {"class_type": …, "inputs": {…}}}``, where an
  input ``[node_id, slot]`` is a link to another node's output;
* ``workflow``, the editor's graph: a node list with positional ``widgets_values`` and a separate
  link table. :func:`workflow_to_api` turns it into the first shape for the common core nodes, so
  one reader serves both.

Everything here accepts any JSON value: a graph from a file is untrusted.
"""

from __future__ import annotations

from typing import Any, TypeGuard

Graph = dict[str, dict[str, Any]]


def is_id(value: Any) -> TypeGuard[int | str]:
    """Node and link ids are ints or strings (anything else in a damaged graph is ignored)."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def link_target(value: Any) -> str | None:
    """The node id a ``[node_id, slot]`` input points at, else None."""
    if (
        isinstance(value, list)
        and len(value) == 2
        and is_id(value[0])
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    ):
        return str(value[0])
    return None


def link_slot(value: Any) -> int:
    """Which output of the linked node: matters for nodes with several (ControlNet's +/-)."""
    return value[1] if link_target(value) is not None else 0


def node_inputs(node: Any) -> dict[str, Any]:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def node_class(node: Any) -> str:
    kind = node.get("class_type") if isinstance(node, dict) else None
    return kind if isinstance(kind, str) else ""


def as_api_graph(value: Any) -> Graph | None:
    """``value`` as an API graph, if it is one (at least one node with class_type + inputs)."""
    if not isinstance(value, dict):
        return None
    graph = {
        str(key): node
        for key, node in value.items()
        if isinstance(node, dict) and isinstance(node.get("class_type"), str)
    }
    return graph if any(isinstance(n.get("inputs"), dict) for n in graph.values()) else None


def is_sampler(node: Any) -> bool:
    """KSampler, KSamplerAdvanced, SamplerCustom(Advanced) and look-alikes from custom packs."""
    inputs = node_inputs(node)
    if "sampler" not in node_class(node).lower():
        return False
    return "latent_image" in inputs or ("positive" in inputs and "negative" in inputs)


# --- the editor ("workflow") format ---------------------------------------------------------

# widgets_values layouts of core nodes; "*" marks the control_after_generate widget the editor
# stores after every seed.
_WIDGETS: dict[str, tuple[str, ...]] = {
    "KSampler": ("seed", "*", "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": (
        "add_noise",
        "noise_seed",
        "*",
        "steps",
        "cfg",
        "sampler_name",
        "scheduler",
        "start_at_step",
        "end_at_step",
        "return_with_leftover_noise",
    ),
    "CLIPTextEncode": ("text",),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "CheckpointLoader": ("config_name", "ckpt_name"),
    "unCLIPCheckpointLoader": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LatentUpscale": ("upscale_method", "width", "height", "crop"),
    "CLIPSetLastLayer": ("stop_at_clip_layer",),
}
_CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}


def _widget_inputs(kind: str, values: list[Any]) -> dict[str, Any]:
    names = _WIDGETS.get(kind)
    if names is None:
        return {}
    result: dict[str, Any] = {}
    index = 0
    for name in names:
        if index >= len(values):
            break
        if name == "*":
            # Old workflows store it as a bool ("random seed after every gen") or lack it.
            control = values[index]
            if isinstance(control, bool) or (
                isinstance(control, str) and control in _CONTROL_VALUES
            ):
                index += 1
            continue
        result[name] = values[index]
        index += 1
    return result


def workflow_to_api(workflow: Any) -> Graph | None:
    """The editor graph as an API graph (links resolved, widget values named for core nodes)."""
    if not isinstance(workflow, dict):
        return None
    nodes, links = workflow.get("nodes"), workflow.get("links")
    if not isinstance(nodes, list):
        return None
    sources: dict[int | str, list[Any]] = {}
    for link in links if isinstance(links, list) else []:
        if isinstance(link, list) and len(link) >= 3:  # [id, from_node, from_slot, …]
            key, origin = link[0], [link[1], link[2]]
        elif isinstance(link, dict):
            key, origin = link.get("id"), [link.get("origin_id"), link.get("origin_slot")]
        else:
            continue
        if is_id(key):
            sources[key] = origin
    graph: Graph = {}
    for node in nodes:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            continue
        if node.get("mode") in (2, 4):  # muted or bypassed nodes did not run
            continue
        kind = node["type"]
        values = node.get("widgets_values")
        inputs = _widget_inputs(kind, values) if isinstance(values, list) else {}
        entries = node.get("inputs")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            if entry.get("widget") and entry["name"] in inputs:
                continue  # a widget fed by a primitive: its value is already in widgets_values
            link_id = entry.get("link")
            linked = sources.get(link_id) if is_id(link_id) else None
            if linked is not None and link_target(linked) is not None:
                inputs[entry["name"]] = linked
        graph[str(node.get("id"))] = {"class_type": kind, "inputs": inputs}
    return graph or None
