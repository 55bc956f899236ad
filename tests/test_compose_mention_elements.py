"""Mention elements (LinkedIn's "@[Name](urn:li:organization:1234)"): the handles file's are
written as elements, a feed's own are made inert like any other mention."""

from __future__ import annotations

from bot.compose.handles import HandleBook, substitute, written
from bot.compose.text import WORD_JOINER, neutralise
from bot.models import MentionStyle

URN = "@urn:li:organization:2414183"


def test_a_mapped_name_becomes_an_element_naming_its_urn() -> None:
    book = HandleBook((("De Beers", {"linkedin": URN}),))
    done = substitute(["De Beers cuts prices; De Beers again"], book, "linkedin",
                      MentionStyle.ELEMENT)  # fmt: skip
    assert done.fields == ("@[De Beers](urn:li:organization:2414183) cuts prices; De Beers again",)
    assert written("Signet", "@urn:li:person:7", MentionStyle.ELEMENT) == (
        "@[Signet](urn:li:person:7)"
    )
    assert written("Signet", "@SignetJewelers", MentionStyle.SUFFIX) == "Signet (@SignetJewelers)"


def test_a_feeds_own_element_is_made_inert() -> None:
    hostile = "Read @[Evil Corp](urn:li:organization:666) now"
    assert neutralise(hostile) == f"Read @{WORD_JOINER}[Evil Corp](urn:li:organization:666) now"
