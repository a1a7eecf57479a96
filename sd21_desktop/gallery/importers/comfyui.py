"""ComfyUI node graphs: the settings of the sampler that made the image.

ComfyUI saves two graphs (see :mod:`.comfyui_graph`): ``prompt``, the graph that ran, and
``workflow``, the editor's copy; we read ``prompt`` and fall back to ``workflow``. Savers put them
in PNG text chunks, in EXIF Make/Model/ImageDescription (``"prompt:{…}"``, ``"Prompt: {…}"``) or
as one JSON object in EXIF UserComment.

From a sampler node (KSampler, KSamplerAdvanced, SamplerCustom…) we follow links: ``positive`` /
``negative`` through conditioning nodes (combine, set-area, ControlNet, unCLIP…) to the text
encoders, ``latent_image`` to the node that set the size, ``model`` to the checkpoint loader.
Graphs are untrusted: walks are bounded and cycle-safe.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sd21_desktop.gallery.importers.comfyui_graph import (
    Graph,
    as_api_graph,
    is_sampler,
    link_slot,
    link_target,
    node_class,
    node_inputs,
    workflow_to_api,
)
from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.result import ImportedMetadata
from sd21_desktop.gallery.importers.values import (
    as_float,
    as_int,
    as_seed,
    as_side,
    as_text,
    load_json,
    load_json_object,
    parse_size,
    stringify,
)

_MAX_VISITS = 2000
_MAX_SAMPLERS = 64
_TEXT_INPUTS = (
    "text",
    "populated_text",
    "text_g",
    "text_l",
    "prompt",
    "positive_prompt",
    "string",
    "value",
)
_STRING_SOURCE_INPUTS = ("text", "string", "value", "prompt", "text_positive", "STRING")
# Inputs that never lead to conditioning text (they would pull in unrelated parts of the graph).
_NOT_CONDITIONING = {
    "clip",
    "model",
    "vae",
    "clip_vision",
    "clip_vision_output",
    "control_net",
    "image",
    "pixels",
    "mask",
    "samples",
    "latent_image",
    "upscale_model",
    "style_model",
}
_MODEL_NAME_INPUTS = ("ckpt_name", "unet_name", "model_name", "base_ckpt_name", "model_path")
_SIZE_INPUT_PAIRS = (("width", "height"), ("empty_latent_width", "empty_latent_height"))
_PREFIX = re.compile(r"^\s*(prompt|workflow)\s*:\s*", re.IGNORECASE)


# --- walking the graph ---------------------------------------------------------------------


def _string_from(graph: Graph, value: Any, budget: list[int]) -> str | None:
    """A text input's string: itself, or what a linked text/primitive node holds."""
    seen: set[str] = set()
    while budget[0] > 0:
        budget[0] -= 1
        if isinstance(value, str):
            return value
        target = link_target(value)
        if target is None or target in seen or target not in graph:
            return None
        seen.add(target)
        inputs = node_inputs(graph[target])
        value = next((inputs[k] for k in _STRING_SOURCE_INPUTS if k in inputs), None)
    return None


def _encoder_texts(graph: Graph, node: dict[str, Any], budget: list[int]) -> list[str] | None:
    """The prompt texts of a text-encoder node, or None when ``node`` is not one."""
    kind = node_class(node).lower()
    if "encode" not in kind and "prompt" not in kind and "text" not in kind:
        return None
    inputs = node_inputs(node)
    texts: list[str] = []
    for key in _TEXT_INPUTS:
        if key in inputs:
            text = _string_from(graph, inputs[key], budget)
            if text and text.strip() and text not in texts:
                texts.append(text)
    return texts if texts or "encode" in kind else None


def _conditioning_texts(graph: Graph, start: Any, budget: list[int]) -> list[str]:
    """Every prompt text feeding a conditioning input, in graph order (depth-first)."""
    texts: list[str] = []
    seen: set[tuple[str, int]] = set()
    stack: list[tuple[str, int]] = []
    first = link_target(start)
    if first is not None:
        stack.append((first, link_slot(start)))
    while stack and budget[0] > 0:
        budget[0] -= 1
        node_id, slot = stack.pop()
        if (node_id, slot) in seen or node_id not in graph:
            continue
        seen.add((node_id, slot))
        node = graph[node_id]
        if is_sampler(node):
            continue
        found = _encoder_texts(graph, node, budget)
        if found is not None:
            texts.extend(t for t in found if t not in texts)
            continue
        inputs = node_inputs(node)
        if "positive" in inputs and "negative" in inputs:
            # ControlNet-style nodes pass positive out of slot 0 and negative out of slot 1.
            names = ["negative" if slot == 1 else "positive"]
        else:
            names = [name for name in inputs if name not in _NOT_CONDITIONING]
        # Reversed so the first input is explored first (a stack pops the last pushed).
        for name in reversed(names):
            target = link_target(inputs.get(name))
            if target is not None:
                stack.append((target, link_slot(inputs[name])))
    return texts


def _walk(graph: Graph, start: Any, follow: tuple[str, ...] | None) -> Iterator[dict[str, Any]]:
    """Nodes reachable from ``start`` breadth-first, through ``follow`` inputs (None: all), not
    through samplers."""
    queue: deque[str] = deque()
    first = link_target(start)
    if first is not None:
        queue.append(first)
    seen: set[str] = set()
    while queue and len(seen) < _MAX_VISITS:
        node_id = queue.popleft()
        if node_id in seen or node_id not in graph:
            continue
        seen.add(node_id)
        node = graph[node_id]
        yield node
        if is_sampler(node):
            continue
        for name, value in node_inputs(node).items():
            target = link_target(value)
            if target is not None and (follow is None or name in follow):
                queue.append(target)


def _size(graph: Graph, latent: Any) -> tuple[int, int] | None:
    for node in _walk(graph, latent, None):
        if is_sampler(node):
            continue
        inputs = node_inputs(node)
        for width_key, height_key in _SIZE_INPUT_PAIRS:
            width, height = as_side(inputs.get(width_key)), as_side(inputs.get(height_key))
            if width and height:
                return width, height
        for key in ("dimensions", "resolution"):
            size = parse_size(inputs.get(key))
            if size:
                return size
    return None


def _model(graph: Graph, model: Any) -> str | None:
    # "" is the single input of a Reroute node.
    for node in _walk(graph, model, ("model", "base_model", "unet", "")):
        inputs = node_inputs(node)
        for key in _MODEL_NAME_INPUTS:
            name = as_text(inputs.get(key))
            if name:
                return name
    return None


def _linked_value(graph: Graph, value: Any, keys: tuple[str, ...]) -> Any:
    """A setting given directly or through a link to a node holding it (seed nodes, primitives)."""
    for _ in range(8):
        target = link_target(value)
        if target is None:
            return value
        inputs = node_inputs(graph.get(target))
        value = next(
            (inputs[k] for k in (*keys, "value", "int", "float", "seed") if k in inputs), None
        )
    return None


def _clip_skip(graph: Graph, encoder_start: Any) -> int | None:
    for node in _walk(graph, encoder_start, None):
        if node_class(node) == "CLIPSetLastLayer":
            layer = as_int(node_inputs(node).get("stop_at_clip_layer"))
            return abs(layer) if layer is not None else None
    return None


@dataclass
class _Sampler:
    node_id: str
    inputs: dict[str, Any]
    positive: Any
    negative: Any
    cfg: Any
    noise: Any


def _sampler_view(graph: Graph, node_id: str) -> _Sampler:
    """A sampler's inputs, looking through SamplerCustomAdvanced's guider/noise/sampler/sigmas."""
    inputs = dict(node_inputs(graph[node_id]))
    positive, negative, cfg = inputs.get("positive"), inputs.get("negative"), inputs.get("cfg")
    guider = node_inputs(graph.get(link_target(inputs.get("guider")) or ""))
    if guider:
        positive = guider.get("positive", guider.get("conditioning", positive))
        negative = guider.get("negative", negative)
        cfg = guider.get("cfg", cfg)
        inputs.setdefault("model", guider.get("model"))
    for part in ("sampler", "sigmas"):
        for key, value in node_inputs(graph.get(link_target(inputs.get(part)) or "")).items():
            inputs.setdefault(key, value)
    noise = node_inputs(graph.get(link_target(inputs.get("noise")) or "")).get("noise_seed")
    return _Sampler(node_id, inputs, positive, negative, cfg, noise)


def _is_base_pass(graph: Graph, latent: Any) -> bool:
    """True when the latent comes from an empty latent, not from another sampler's output."""
    for node in _walk(graph, latent, None):
        if is_sampler(node):
            return False
        if "emptylatent" in node_class(node).lower().replace(" ", ""):
            return True
    return False


def _pick_sampler(graph: Graph, budget: list[int]) -> tuple[_Sampler, list[str]] | None:
    """The sampler to report: the first text-to-image pass that has a prompt, else the first
    sampler with a prompt, else the first sampler."""
    ranked: list[tuple[int, int, _Sampler, list[str]]] = []
    samplers = [node_id for node_id in graph if is_sampler(graph[node_id])]
    # Real graphs have a handful; a hostile one with thousands would make this quadratic.
    for order, node_id in enumerate(samplers[:_MAX_SAMPLERS]):
        view = _sampler_view(graph, node_id)
        texts = _conditioning_texts(graph, view.positive, budget)
        rank = (0 if texts else 2) + (
            0 if _is_base_pass(graph, view.inputs.get("latent_image")) else 1
        )
        ranked.append((rank, order, view, texts))
    if not ranked:
        return None
    _, _, view, texts = min(ranked, key=lambda item: (item[0], item[1]))
    return view, texts


def from_graph(graph: Graph, source: str = "comfyui") -> ImportedMetadata | None:
    """The settings of the main sampler of an API graph; None when it has no sampler."""
    budget = [_MAX_VISITS * 4]
    picked = _pick_sampler(graph, budget)
    if picked is None:
        return None
    view, positive = picked
    negative = _conditioning_texts(graph, view.negative, budget)
    inputs = view.inputs
    size = _size(graph, inputs.get("latent_image"))
    seed = _linked_value(
        graph, inputs.get("seed", inputs.get("noise_seed", view.noise)), ("seed", "noise_seed")
    )
    extra: dict[str, str] = {"sampler_node": view.node_id}
    for key in ("denoise", "scheduler", "start_at_step", "end_at_step"):
        value = _linked_value(graph, inputs.get(key), (key,))
        if value is not None and not isinstance(value, (dict, list)):
            extra[key] = stringify(value)
    clip_skip = _clip_skip(graph, view.positive)
    if clip_skip is not None:
        extra["clip_skip"] = str(clip_skip)
    samplers = sum(1 for node in graph.values() if is_sampler(node))
    if samplers > 1:
        extra["sampler_count"] = str(samplers)
    schedule = _linked_value(graph, inputs.get("scheduler"), ("scheduler",))
    sampler = _linked_value(graph, inputs.get("sampler_name"), ("sampler_name",))
    return ImportedMetadata(
        source=source,
        prompt="\n".join(positive) if positive else None,
        negative_prompt="\n".join(negative) if negative else ("" if positive else None),
        seed=as_seed(seed),
        steps=as_int(_linked_value(graph, inputs.get("steps"), ("steps",))),
        cfg_scale=as_float(_linked_value(graph, view.cfg, ("cfg",))),
        sampler=as_text(sampler),
        width=size[0] if size else None,
        height=size[1] if size else None,
        model=_model(graph, inputs.get("model")),
        extra=extra,
        schedule=as_text(schedule),
    )


# --- finding the graphs in a file ----------------------------------------------------------


def _strip_prefix(text: str) -> tuple[str | None, str]:
    """``"Prompt: {…}"`` / ``"workflow:{…}"`` → ("prompt"/"workflow", json text)."""
    match = _PREFIX.match(text)
    if match:
        return match.group(1).lower(), text[match.end() :]
    return None, text


def find_graphs(sources: Sources) -> tuple[Graph | None, Graph | None]:
    """(API graph, workflow converted to an API graph) from wherever ComfyUI savers put them."""
    api: Graph | None = None
    workflow: Graph | None = None
    api = as_api_graph(load_json_object(sources.texts.get("prompt")))
    workflow = workflow_to_api(load_json_object(sources.texts.get("workflow")))
    candidates = [sources.exif.get(name) for name in ("Make", "Model", "ImageDescription")]
    candidates += [sources.exif.get("UserComment"), sources.comment]
    for text in candidates:
        if not text:
            continue
        label, body = _strip_prefix(text)
        value = load_json(body)
        if label == "prompt" and api is None:
            api = as_api_graph(value)
        elif label == "workflow" and workflow is None:
            workflow = workflow_to_api(value if isinstance(value, dict) else None)
        elif label is None and isinstance(value, dict):
            # SaveImage+ writes {"prompt": …, "workflow": …}; Civitai a bare API graph.
            if api is None:
                api = as_api_graph(load_json_object(value.get("prompt"))) or as_api_graph(
                    value.get("prompt")
                )
                api = api or as_api_graph(value)
            if workflow is None:
                inner = value.get("workflow")
                workflow = workflow_to_api(
                    inner if isinstance(inner, dict) else load_json_object(inner)
                )
    return api, workflow


def _is_civitai(graph: Graph, document: Any) -> bool:
    """Civitai's generator leaves "resource-stack" nodes and ``urn:air:`` model names."""
    if "resource-stack" in graph or (isinstance(document, dict) and "extraMetadata" in document):
        return True
    return any(
        isinstance(value, str) and value.startswith("urn:air:")
        for node in graph.values()
        for value in node_inputs(node).values()
    )


def parse(sources: Sources) -> ImportedMetadata | str | None:
    api, workflow = find_graphs(sources)
    for graph in (api, workflow):
        if graph is None:
            continue
        civitai = _is_civitai(graph, load_json(sources.exif.get("UserComment")))
        found = from_graph(graph, "civitai" if civitai else "comfyui")
        if found is not None:
            return found
    if api is not None or workflow is not None:
        return "A ComfyUI graph was found, but it has no sampler node to read settings from."
    if "workflow" in sources.texts or load_json(sources.texts.get("prompt")) is not None:
        return "A ComfyUI-style 'prompt'/'workflow' text was found, but it is not a node graph."
    return None
