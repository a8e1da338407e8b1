"""`POST /v1/translations`: text translated by a chat model.

    {model?, text, source_lang?, target_lang} → {translated_text, source_lang, target_lang, model, usage}

With `source_lang` the model is asked for the translation alone. Without it the model is asked to
name the language too, as JSON; a reply that is not that JSON is taken as the translation itself,
with `source_lang` null. (Not `/v1/audio/translations`, which turns speech into English text.)
"""

from __future__ import annotations

from typing import Any

from dataplane.endpoints.base import Call
from dataplane.endpoints.chat_tasks import ChatTask, Task, json_object, required_text, short_name

GIVEN = (
    "Translate the user's text from {source} to {target}. Keep its meaning, tone and formatting. "
    "Reply with the translation only, nothing else."
)
DETECT = (
    "Translate the user's text to {target}. Keep its meaning, tone and formatting. Reply with only a "
    'JSON object: {{"source_lang": "<the language the text is written in>", "translated_text": "<the '
    'translation>"}}.'
)


class Translations(ChatTask):
    name = "translations"
    paths = ("/translations",)

    def task(self, body: dict[str, Any]) -> Task:
        text = required_text(body, "text")
        target = short_name(body, "target_lang", required=True)
        source = short_name(body, "source_lang", required=False)
        instruction = GIVEN.format(source=source, target=target) if source else DETECT.format(target=target)
        messages = [{"role": "system", "content": instruction}, {"role": "user", "content": text}]
        return Task(messages, {"source_lang": source, "target_lang": target})

    def answer(self, call: Call, text: str) -> dict[str, Any]:
        wanted = call.parsed.wanted
        source, translated = wanted["source_lang"], text.strip()
        if source is None:
            found = json_object(text)
            if found is not None and isinstance(found.get("translated_text"), str):
                translated = found["translated_text"]
                detected = found.get("source_lang")
                source = detected if isinstance(detected, str) and detected.strip() else None
        return {"translated_text": translated, "source_lang": source, "target_lang": wanted["target_lang"]}


ENDPOINT = Translations()
