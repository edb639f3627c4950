"""What a test taker sees of an item: rendered field by field, so the scoring key cannot slip in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adaptive.errors import UnknownIdError

if TYPE_CHECKING:
    from adaptive.itembank.model import Item


def public_item(it: Item, language: str) -> dict[str, Any]:
    """The item as a client shows it in ``language``: id, area, competence, language, response_type,
    stem, options, media. Never the key (nor the IRT parameters)."""
    if language not in it.content:
        raise UnknownIdError(
            "language",
            language,
            f"item {it.id!r} has no content in language {language!r} "
            f"(available: {', '.join(it.content)})",
        )
    content = it.content[language]
    # built field by field (never from to_dict) so the key cannot slip in
    return {
        "id": it.id,
        "area": it.area,
        "competence": it.competence,
        "language": language,
        "response_type": "rating-scale" if it.is_polytomous else "single-choice",
        "stem": content.stem,
        "options": list(content.options),
        "media": list(content.media),
    }
