"""Story + platform rules + template + handles in, Post out: pure, no I/O, no clock.

Fitting order when a post is too long (short-limit platforms in practice; the others only past
their own limits):
1. the summary is shortened at a word boundary with "…" (dropped if no part of it fits);
2. hashtags are dropped, last first;
3. {mentions} handles are dropped, last first;
4. the author is dropped;
5. the title is shortened at a word boundary with "…" (a single over-long plain word is cut
   inside, never a URL, @handle or #hashtag).
A template whose fixed text, URL and brand handle alone exceed the limit is refused at start by
`Composer.check` (ConfigError). If a story still cannot fit (a URL longer than a platform's whole
allowance), compose raises Unsuitable, which the engine records as skipped.

Everything that differs between platforms (how length is counted, how a handle is written,
whether the link becomes a card, default hashtags, the label in messages) comes from the
platform's `Limits`, handed in by the caller: nothing here knows a platform by its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bot.compose.counting import fits, measure, over_bytes
from bot.compose.fit import Shortenings, longest_fitting
from bot.compose.handles import (
    HandleBook,
    load_handles,
    mentioned,
    normalise_handle,
    substitute,
    written,
)
from bot.compose.hashtags import MAX_HASHTAGS, hashtags
from bot.compose.templates import Template, load_template
from bot.compose.text import (
    clean,
    count_hashtags,
    count_mentions,
    drop_sigils,
    find_hashtags,
    neutralise,
)
from bot.errors import ConfigError, Unsuitable
from bot.models import Limits, MentionStyle, Post, Story
from bot.utm import UtmTemplate, feed_label

ALT_TEXT_MAX = 1000
"""The smallest alt-text limit among the platforms; every one accepts at least this much."""
_TYPICAL_URL = 23
"""The characters of a typical story link, where a platform counts a link as its characters."""


@dataclass
class _Draft:
    """The mutable state of one composition; reductions only ever remove things from it."""

    title: str
    summary: str
    author: str
    url: str
    handle: str
    tags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    substituted: tuple[str, ...] = ()

    def values(self) -> dict[str, str]:
        return {
            "title": self.title,
            "summary": self.summary,
            "url": self.url,
            "handle": self.handle,
            "hashtags": " ".join(self.tags),
            "author": self.author,
            "mentions": " ".join(self.mentions),
        }


class Composer:
    """Holds the checked templates, the handle book and the per-platform settings."""

    def __init__(
        self,
        templates: Mapping[str, Template],
        handles: HandleBook,
        *,
        brand_handles: Mapping[str, str],
        hashtag_caps: Mapping[str, int],
        limits: Mapping[str, Limits],
        utm: UtmTemplate | None = None,
        feed_mentions: bool = False,
        feed_hashtags: bool = False,
    ) -> None:
        """`feed_mentions` / `feed_hashtags` (FEED_MENTIONS=keep, FEED_HASHTAGS=keep): leave
        the @mentions, or the #tags and $CASHTAGS, of a story's own text live. By default they
        are neutralised; the brand handle, the handles file's handles and the bot's hashtags
        are always live. `limits` (platform -> Limits) judges the brand handles; compose is
        handed the limits to write by on every call."""
        self.templates = dict(templates)
        self.utm = utm
        self.feed_mentions = feed_mentions
        self.feed_hashtags = feed_hashtags
        self.handles = handles
        self.brand_handles: dict[str, str] = {}
        for p, h in brand_handles.items():
            variable = f"{p.upper()}_HANDLE"
            if p in limits:
                self.brand_handles[p] = normalise_handle(h or "", p, limits[p], variable, variable)
            elif h:
                known = ", ".join(limits)
                raise ConfigError(f"{variable}: {p!r} is not a platform; use {known}", variable)
        self.hashtag_caps = dict(hashtag_caps)
        self.extra_hashtags: tuple[str, ...] = ()
        """A feed's own hashtags (FEEDS_FILE): before the story's categories, within the cap."""
        for platform, cap in self.hashtag_caps.items():
            if not 0 <= cap <= MAX_HASHTAGS:
                name = f"HASHTAGS_{platform.upper()}"
                raise ConfigError(f"{name}={cap} must be between 0 and {MAX_HASHTAGS}", name)

    # --- measuring --------------------------------------------------------------------------

    def measure(self, platform: str, text: str, limits: Limits) -> int:
        """Length as the platform counts it (`limits.counting`); `platform` names no rule."""
        return measure(text, limits)

    def template(self, platform: str) -> Template:
        try:
            return self.templates[platform]
        except KeyError:
            raise ConfigError(
                f"no template loaded for {platform}; add {platform}.txt to TEMPLATE_DIR",
                variable="TEMPLATE_DIR",
            ) from None

    def check(self, platform: str, limits: Limits) -> None:
        """Refuse, at start, a template that cannot fit even with every story field empty."""
        template = self.template(platform)
        # The link as the platform counts it (its fixed link weight, else a typical link's
        # characters), in plain letters: checking a template parses no URL, so a poll that
        # finds nothing new never loads twitter_text's URL expression (50 ms).
        link = "x" * (limits.url_weight if limits.url_weight is not None else _TYPICAL_URL)
        skeleton = template.render({"url": link, "handle": self.brand_handles.get(platform, "")})
        size = self.measure(platform, skeleton, limits)
        if not fits(skeleton, limits, size):
            raise ConfigError(
                f"template {template.source}: its fixed text, a link and the brand handle "
                f"already take {size} of {limits.max_length}; shorten the template",
                variable="TEMPLATE_DIR",
            )
        if limits.max_mentions is not None and count_mentions(skeleton) > limits.max_mentions:
            raise ConfigError(
                f"template {template.source}: more than {limits.max_mentions} @mentions",
                variable="TEMPLATE_DIR",
            )

    def validate(self, platform: str, text: str, link: str | None, limits: Limits) -> int:
        """Check a person's text (an edit in the web face) by the very rules a composed post
        must pass (`_verify`): length as the platform counts it, hashtags, mentions. Returns
        the length; raises Unsuitable naming the broken rule."""
        size = self.measure(platform, text, limits)
        self._verify(platform, text, size, link, limits, self._hashtag_cap(platform, limits))
        return size

    def _hashtag_cap(self, platform: str, limits: Limits) -> int:
        return min(
            self.hashtag_caps.get(platform, limits.default_hashtags),
            limits.max_hashtags,
            MAX_HASHTAGS,
        )

    # --- composing --------------------------------------------------------------------------

    def compose(
        self, story: Story, platform: str, limits: Limits, *, day: date | None = None
    ) -> Post:
        """The post for one platform. Raises Unsuitable only when no valid post can exist.

        `day` fills UTM_PARAMS' {date} (the day the post is made; the story's own date without
        it): the caller has the clock, this function has none."""
        template = self.template(platform)
        used = template.fields
        text_fields = [f for f in used if f in ("title", "summary")]
        brand = self.brand_handles.get(platform, "")
        handles = self.handles.platform_handles(platform)
        live = frozenset(h.casefold() for h in (brand, *handles.values()) if h)

        def inert(text: str) -> str:
            return neutralise(
                text, mentions=not self.feed_mentions, hashtags=not self.feed_hashtags, live=live
            )

        raw = {
            "title": inert(clean(story.title)),
            "summary": inert(clean(story.summary, multiline=True)),
        }
        cap = self._hashtag_cap(platform, limits)
        hard_tags = cap  # the cap is for the whole post: story #tags count too
        warnings: list[str] = []

        skip: set[str] = set()
        dehash = deat = 0
        max_tags = cap
        style = limits.mention_style
        story_names = mentioned([raw["title"], raw["summary"]], self.handles)
        author, url = inert(clean(story.author)), clean(story.url)  # once: drafts carry them
        if url and self.utm is not None:
            url = self.utm.tag(
                url,
                platform=platform,
                feed=feed_label(story.feed_url),
                day=day or story.published.date(),
            )

        def shown(name: str, handle: str) -> str:
            """A {mentions} entry: the handle, or for element mentions the name with it."""
            return written(name, handle, style) if style == MentionStyle.ELEMENT else handle

        def build() -> _Draft:
            texts = [raw[f] for f in text_fields]
            texts = drop_sigils(texts, "#", dehash)
            texts = drop_sigils(texts, "@", deat)
            sub = substitute(texts, self.handles, platform, style, skip=frozenset(skip))
            # A handle written in changes what stands before the next character: the inert
            # "@x" of "De Beers@x" would come alive after "(@debeersgroup)". Made inert again.
            subbed = [inert(t) for t in sub.fields] if sub.names else list(sub.fields)
            values = dict(zip(text_fields, subbed, strict=True))
            seen = {brand.casefold()} if brand else set()
            mentions: list[str] = []
            if "mentions" in used:
                for name in story_names:
                    handle = handles.get(name)
                    if handle is None or name in sub.names or name in skip:
                        continue
                    if handle.casefold() not in seen:
                        seen.add(handle.casefold())
                        mentions.append(shown(name, handle))
            present = [m.group(0) for t in subbed for m in find_hashtags(t)]
            budget = max(0, min(max_tags, cap - len(present)))
            sources = (*self.extra_hashtags, *story.categories)
            tags = hashtags(sources, budget, exclude=present) if "hashtags" in used else []
            return _Draft(
                title=values.get("title", ""),
                summary=values.get("summary", ""),
                author=author,
                url=url,
                handle=brand,
                tags=tags,
                mentions=mentions,
                substituted=sub.names,
            )

        draft = build()
        text = template.render(draft.values())  # re-rendered only when the draft changes

        def in_story(counter: Callable[[str], int]) -> int:
            """#tags or @mentions the story text itself carries (asked only once caps bite)."""
            return sum(counter(raw[f]) for f in text_fields)

        # Hard platform caps on #tags and @mentions: remove the least valuable first.
        while count_hashtags(text) > hard_tags:
            if draft.tags:
                max_tags = len(draft.tags) - 1
            elif dehash < in_story(count_hashtags):
                dehash += 1
            else:
                break
            draft = build()
            text = template.render(draft.values())
            warnings.append(f"hashtags reduced to the limit of {hard_tags}")
        while limits.max_mentions is not None and count_mentions(text) > limits.max_mentions:
            if draft.mentions:  # every name shown as the last entry (one handle, many names)
                last = draft.mentions[-1]
                skip.update(n for n in story_names if (h := handles.get(n)) and shown(n, h) == last)
            elif draft.substituted:
                skip.add(draft.substituted[-1])
            elif deat < in_story(count_mentions):
                deat += 1
            elif brand:
                brand = ""
            else:
                break
            draft = build()
            text = template.render(draft.values())
            warnings.append(f"mentions reduced to the limit of {limits.max_mentions}")

        size = self.measure(platform, text, limits)
        if not fits(text, limits, size):
            draft = self._fit(template, draft, platform, limits, warnings)
            text = template.render(draft.values())
            size = self.measure(platform, text, limits)
        link = (url or None) if limits.link_card else None
        self._verify(platform, text, size, link, limits, hard_tags)
        if limits.requires_image and not story.image_url:
            label = limits.label or platform
            warnings.append(f"no image: {label} will skip this story")
        values = draft.values()
        return Post(
            platform=platform,
            text=text,
            link=link,
            image_url=story.image_url,
            alt_text=alt_text(raw["title"]),
            story_url=story.url,
            parts={f: values[f] for f in used},
            warnings=tuple(dict.fromkeys(warnings)),
        )

    def _fit(
        self, template: Template, draft: _Draft, platform: str, limits: Limits, warnings: list[str]
    ) -> _Draft:
        """Shorten or drop parts, least valuable first, until the draft fits (it does not yet)."""

        def fits_now(d: _Draft) -> bool:
            return fits(template.render(d.values()), limits)

        used = template.fields
        if "summary" in used and draft.summary:
            summary = draft.summary

            def with_summary(s: str) -> bool:
                draft.summary = s
                return fits_now(draft)

            best = longest_fitting(Shortenings(summary), with_summary)
            draft.summary = best or ""
            warnings.append("summary shortened" if best else "summary dropped to fit")
            if best:
                return draft
        while draft.tags and not fits_now(draft):
            draft.tags.pop()
            warnings.append("hashtags dropped to fit")
        while draft.mentions and not fits_now(draft):
            draft.mentions.pop()
            warnings.append("mentions dropped to fit")
        if "author" in used and draft.author and not fits_now(draft):
            draft.author = ""
            warnings.append("author dropped to fit")
        if "title" in used and draft.title and not fits_now(draft):
            title = draft.title

            def with_title(t: str) -> bool:
                draft.title = t
                return fits_now(draft)

            draft.title = longest_fitting(Shortenings(title), with_title) or ""
            warnings.append("title shortened" if draft.title else "title dropped to fit")
        return draft

    def _verify(
        self, platform: str, text: str, size: int, link: str | None, limits: Limits, hard_tags: int
    ) -> None:
        """The last word: a post that breaks a platform rule is never returned (`size` is
        measure(text), already known to the caller: the weighted count is the costly one)."""
        if not text and not link:  # a link-card post needs no message
            raise Unsuitable(platform, "nothing to post: the story has no usable text or link")
        if size > limits.max_length:
            raise Unsuitable(
                platform, f"the post cannot fit {limits.max_length} (it needs {size} at least)"
            )
        size_bytes = over_bytes(text, limits)
        if size_bytes is not None:
            raise Unsuitable(
                platform,
                f"the post cannot fit {limits.max_bytes} bytes (it needs {size_bytes} at least)",
            )
        if count_hashtags(text) > hard_tags:
            raise Unsuitable(platform, f"the post has more than {hard_tags} hashtags")
        if limits.max_mentions is not None and count_mentions(text) > limits.max_mentions:
            raise Unsuitable(platform, f"the post has more than {limits.max_mentions} mentions")


def alt_text(title: str, limit: int = ALT_TEXT_MAX) -> str | None:
    """Image description from the title, plain names (no handles), cut at a word if needed."""
    if not title:
        return None
    if len(title) <= limit:
        return title
    return (
        longest_fitting(Shortenings(title), lambda t: len(t) <= limit) or title[: limit - 1] + "…"
    )


def load_composer(
    template_dir: Path,
    handles_file: Path,
    *,
    brand_handles: Mapping[str, str],
    hashtag_caps: Mapping[str, int],
    limits: Mapping[str, Limits],
    platforms: tuple[str, ...] | None = None,
    utm: UtmTemplate | None = None,
    template_files: Mapping[str, str] | None = None,
    feed_mentions: bool = False,
    feed_hashtags: bool = False,
) -> Composer:
    """Read and check the templates of `platforms` and handles.toml: the composer's only I/O.

    `limits` holds every platform the bot knows (platform -> Limits): the handles file may name
    any of them. Templates are read for `platforms` (all of them by default), and each is
    checked to fit its platform. `template_files` names a platform's template file when it is
    not `{platform}.txt`.
    """
    names = dict(template_files or {})
    wanted = tuple(limits) if platforms is None else platforms
    templates = {p: load_template(Path(template_dir) / names.get(p, f"{p}.txt")) for p in wanted}
    composer = Composer(
        templates,
        load_handles(Path(handles_file), limits),
        brand_handles=brand_handles,
        hashtag_caps=hashtag_caps,
        limits=limits,
        utm=utm,
        feed_mentions=feed_mentions,
        feed_hashtags=feed_hashtags,
    )
    for platform, platform_limits in limits.items():
        if platform in templates:
            composer.check(platform, platform_limits)
    return composer
