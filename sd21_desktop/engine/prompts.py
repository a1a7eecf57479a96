"""The condition step of a generation: a request's prompts -> embeddings, with its LoRAs applied.

:func:`condition` takes ``<lora:…>`` tags out of the prompt, finds each LoRA and every embedding
the prompt names in the folders (by the sha256 the request recorded, so a renamed file still
works, else by name), makes exactly those LoRAs active on the pipeline, and encodes both prompts
(:func:`~sd21_desktop.engine.prompt_encoding.encode_conditioning`). It returns the embeddings for
the pipeline call and the request with the files used recorded (name, sha256). It is the
condition stage's default encoder (:func:`syntax_encoder`).

A missing, damaged or wrong-sized file raises a :class:`UserFacingError` naming it.
"""

from __future__ import annotations

from typing import Any

from sd21_desktop.engine.conditioning import PromptEmbeddings, PromptEncoder
from sd21_desktop.engine.embeddings import Embedding, load_embedding
from sd21_desktop.engine.lora import ActiveLora, apply_loras
from sd21_desktop.engine.networks import (
    NetworkFile,
    NetworkFolders,
    file_sha256,
    find_by_hash,
    find_by_name,
    list_files,
    missing_message,
)
from sd21_desktop.engine.prompt_encoding import encode_conditioning
from sd21_desktop.engine.prompt_syntax import extract_extra_networks, name_pattern
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import UserFacingError


def _missing(kind: str, name: str, sha256: str | None, folders: NetworkFolders) -> Exception:
    folder = folders.folder("lora" if kind == "lora" else "embedding")
    hint = (
        f"Put the file in {folder} (any file name; it is found by its content)"
        if sha256
        else f"Put {name}.safetensors in {folder}"
    )
    return UserFacingError(
        missing_message("lora" if kind == "lora" else "embedding", name, sha256, folder),
        hint + (", or remove the tag from the prompt." if kind == "lora" else "."),
    )


def resolve_loras(request: GenerationRequest, folders: NetworkFolders) -> list[ActiveLora]:
    recorded = dict(request.loras)
    loras: list[ActiveLora] = []
    for tag in extract_extra_networks(request.prompt).loras:
        sha = recorded.get(tag.name)
        found = (
            find_by_hash(folders.loras, "lora", sha, tag.name)
            if sha
            else find_by_name(folders.loras, "lora", tag.name)
        )
        if found is None:
            raise _missing("lora", tag.name, sha, folders)
        loras.append(
            ActiveLora(
                tag.name, found.path, file_sha256(found.path), tag.text_encoder_weight,
                tag.unet_weight,
            )
        )
    return loras


def _named_embeddings(
    request: GenerationRequest, folders: NetworkFolders, text: str
) -> dict[str, NetworkFile]:
    """The embedding files the prompts may name: every file whose name appears in the text as
    a word, and each recorded one found by its hash under its recorded name."""
    files = {
        item.name: item
        for item in list_files(folders.embeddings, "embedding")
        if name_pattern(item.name).search(text)
    }
    for name, sha in request.embeddings:
        found = find_by_hash(folders.embeddings, "embedding", sha, name)
        if found is None:
            raise _missing("embedding", name, sha, folders)
        files[name] = found
    return files


def condition(
    pipeline: Any, request: GenerationRequest, folders: NetworkFolders
) -> PromptEmbeddings:
    """Apply the request's LoRAs to ``pipeline`` and encode its prompts (see module doc)."""
    positive = extract_extra_networks(request.prompt)
    negative = extract_extra_networks(request.negative_prompt)
    notices = [
        f"{tag} is not supported here and was left out of the prompt."
        for tag in positive.ignored + negative.ignored
    ]
    if negative.loras:
        notices.append("LoRA tags in the negative prompt are left out; put them in the prompt.")
    loras = resolve_loras(request, folders)
    width = int(pipeline.text_encoder.get_input_embeddings().weight.shape[1])
    files = _named_embeddings(request, folders, positive.text + "\n" + negative.text)
    embeddings: dict[str, Embedding] = {
        name: load_embedding(item.path, name, width) for name, item in files.items()
    }
    apply_loras(pipeline, loras)
    encoded = encode_conditioning(pipeline, positive.text, negative.text, embeddings)
    recorded = request.replace(
        loras=tuple((lora.name, lora.sha256) for lora in loras),
        embeddings=tuple(
            (name, file_sha256(files[name].path)) for name in encoded.embeddings_used
        ),
    )
    guidance = request.guidance_scale > 1.0  # without it the pipeline takes no negative
    return PromptEmbeddings(
        encoded.prompt_embeds,
        encoded.negative_prompt_embeds if guidance else None,
        request=recorded,
        notices=tuple(notices),
    )


def syntax_encoder(folders: NetworkFolders | None = None) -> PromptEncoder:
    """The :data:`PromptEncoder` of the condition stage: :func:`condition` with ``folders``
    (None: those of the default data folder)."""

    def encode(pipeline: Any, request: GenerationRequest) -> PromptEmbeddings:
        if folders is not None:
            return condition(pipeline, request, folders)
        from sd21_desktop.paths import resolve_paths

        return condition(pipeline, request, resolve_paths().network_folders())

    return encode
