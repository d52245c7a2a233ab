"""Template conversations: Jinja2 intents that turn a persona into user/assistant turns with
exact ground truth about which attribute is disclosed where, and how.

An intent template (`templates/conversations/<intent>.j2`) defines two macros, `user(n)` and
`assistant(n)`, for the n-th exchange, and may open with a YAML front matter comment that
lists the attributes natural to mention in it. Templates never see the persona: the only way
a persona fact enters the text is `disclose()`, which is why the recorded disclosures are the
whole truth (a `none` conversation is a clean negative control). Templates run in Jinja2's
SandboxedEnvironment with StrictUndefined; an error names the template file and line.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
import traceback
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from ..errors import SynthgapError
from ..personas.taxonomy import Taxonomy
from ..records import Conversation, Disclosure, Persona, Turn, build
from . import noise
from .disclosure import Disclosable, entries, render
from .noise import Realism, Segment
from ..seeds import seeded_random

DisclosureMode = Literal["explicit", "implicit", "mixed", "none"]
_OPEN, _CLOSE, _BR, _TAB = "\ue000", "\ue001", "\ue002", "\ue003"
_VERB_OPEN, _VERB_CLOSE = "\ue004", "\ue005"
_VERBATIM = re.compile(f"{_VERB_OPEN}(.*?){_VERB_CLOSE}", re.S)
_PLACEHOLDER = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_SPACE = re.compile(r"[ \t\r\n]+")
_FRONT = re.compile(r"\A\s*\{#-?(.*?)-?#\}", re.S)


class TemplateError(SynthgapError):
    """A conversation template that does not compile or render: names the file and line."""


class GenerationConfig(BaseModel):
    """Everything that decides the generated conversations (its fingerprint decides resuming)."""

    model_config = ConfigDict(extra="forbid")

    per_persona: int = Field(3, ge=1, description="conversations per persona")
    turns: int = Field(3, ge=1, le=50, description="user turns per conversation (each gets an assistant reply)")
    disclosure: DisclosureMode = "mixed"
    disclosures: tuple[int, int] = Field((1, 3), description="attributes disclosed per conversation (min, max)")
    intents: Optional[list[str]] = Field(None, description="intents to use (None = all)")
    realism: Realism = Field(default_factory=Realism)
    seed: int = 0
    source: str = "synthgap-templates"


@dataclass
class Intent:
    """A compiled intent template and what its front matter declares."""

    name: str
    path: str
    template: Any
    relevant: tuple[str, ...] = ()
    weight: float = 1.0
    description: str = ""


def builtin_dir() -> Path:
    return Path(str(resources.files("synthgap.templates") / "conversations"))


def _error_line(exc: BaseException, intent: "Intent") -> Optional[int]:
    """The template line an exception was raised from (the compiled code's line, mapped back)."""
    line = getattr(exc, "lineno", None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == intent.path:
            line = intent.template.get_corresponding_lineno(frame.lineno)
    return line


def _sandbox():
    """Jinja2's SandboxedEnvironment, minus the per-call safety checks for our own helpers.

    Templates call pick()/disclose() dozens of times per conversation; those are methods of
    `_State` and known safe, so checking them each time only costs speed. Everything else
    (attributes, other callables) still goes through the sandbox.
    """
    import jinja2
    from jinja2.runtime import Macro
    from jinja2.sandbox import SandboxedEnvironment

    class Sandbox(SandboxedEnvironment):
        def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja's signature)
            # Our helpers and the template's own macros are safe by construction.
            if type(getattr(__obj, "__self__", None)) is _State or type(__obj) is Macro:
                kwargs.pop("_block_vars", None)
                kwargs.pop("_loop_vars", None)
                return __obj(*args, **kwargs)
            return super().call(__context, __obj, *args, **kwargs)

    return Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                   keep_trailing_newline=False)


class TemplateLibrary:
    """The intent templates: built-in ones, overridden or extended by user directories."""

    def __init__(self, extra_dirs: Iterable[Union[str, Path]] = (), *, builtin: bool = True):
        dirs = [Path(d) for d in extra_dirs]
        for d in dirs:
            if not d.is_dir():
                raise TemplateError(f"{d}: template directory not found")
        if builtin:
            dirs.append(builtin_dir())
        self.env = _sandbox()
        self.intents: dict[str, Intent] = {}
        for d in reversed(dirs):  # later (user) directories override earlier (built-in) ones
            for path in sorted(d.glob("*.j2")):
                self.intents[path.stem] = self._compile(path)
        if not self.intents:
            raise TemplateError(f"no conversation templates (*.j2) found in {', '.join(map(str, dirs))}")

    def _compile(self, path: Path) -> Intent:
        import yaml
        from jinja2 import TemplateSyntaxError

        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{path}: cannot read template: {exc}") from None
        meta: dict = {}
        front = _FRONT.match(source)
        if front:
            try:
                meta = yaml.safe_load(front.group(1)) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = f"line {mark.line + 1}: " if mark else ""
                raise TemplateError(f"{path}: {line}front matter is not valid YAML") from None
            if not isinstance(meta, dict):
                raise TemplateError(f"{path}: front matter must be a YAML mapping (relevant:, weight:, description:)")
            unknown = set(meta) - {"relevant", "weight", "description", "intent"}
            if unknown:
                raise TemplateError(f"{path}: front matter: unknown key {sorted(unknown)[0]!r} "
                                    "(known: relevant, weight, description)")
        try:
            code = self.env.compile(source, path.stem, str(path))
            template = self.env.template_class.from_code(self.env, code, self.env.make_globals(None), None)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"{path}: line {exc.lineno}: {exc.message}") from None
        for macro in ("user", "assistant"):
            if f"macro {macro}(" not in source.replace("macro  ", "macro "):
                raise TemplateError(f"{path}: an intent template defines the macros user(n) and assistant(n); "
                                    f"{macro}(n) is missing")
        relevant = meta.get("relevant") or []
        if not isinstance(relevant, list) or not all(isinstance(r, str) for r in relevant):
            raise TemplateError(f"{path}: front matter: relevant must be a list of attribute names")
        weight = meta.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or weight < 0:
            raise TemplateError(f"{path}: front matter: weight must be a number >= 0")
        return Intent(path.stem, str(path), template, tuple(relevant), float(weight), str(meta.get("description", "")))

    def check(self, runs: int = 4) -> None:
        """Render every template a few times so that errors surface before a long run starts."""
        for intent in self.intents.values():
            for i in range(runs):
                state = _State(seeded_random(i, "check"), {0: [], 1: []}, Realism())
                for n in range(3):
                    _render_macro(intent, state, "user", n)
                    _render_macro(intent, state, "assistant", n)


@dataclass(slots=True)
class _State:
    """Per-conversation state behind the helpers that templates call."""

    rng: random.Random
    plan: dict[int, list[int]]  # user turn -> disclosure indices still to place
    realism: Realism
    turn: int = 0
    role: str = "user"
    used: set = field(default_factory=set)
    mentioned: dict = field(default_factory=dict)
    kept_values: dict = field(default_factory=dict)
    acked: set = field(default_factory=set)
    modules: dict = field(default_factory=dict)  # intent name -> its module in this conversation

    # Helpers exposed to templates --------------------------------------------------------
    def pick(self, options, *more):
        """One of the options, at random."""
        options = list(options) if not more else [options, *more]
        if not options:
            raise ValueError("pick() needs at least one option")
        return self.rng.choice(options)

    def pick_once(self, options):
        """One of the options not yet used in this conversation (any when all are used)."""
        options = list(options)
        fresh = [o for o in options if o not in self.used] or options
        choice = self.rng.choice(fresh)
        self.used.add(choice)
        return choice

    def opt(self, text, p: float = 1.0):
        """Optional text: left out with the brevity probability (scaled by p)."""
        return "" if self.rng.random() < self.realism.brevity * p else text

    def chance(self, p: float) -> bool:
        """True with probability p."""
        return self.rng.random() < p

    def keep(self, name: str, value) -> str:
        """Remember a value for a later macro (e.g. the question the assistant answers); renders nothing."""
        self.kept_values[name] = value
        return ""

    def kept(self, name: str):
        """A value remembered with keep()."""
        if name not in self.kept_values:
            raise KeyError(f"kept({name!r}): nothing was kept under that name")
        return self.kept_values[name]

    def disclose(self, limit: Optional[int] = None):
        """A placeholder for the disclosures planned for this user turn (all, or at most `limit`)."""
        if self.role != "user":
            return ""  # assistant turns never carry the user's disclosures
        pending = self.plan.get(self.turn, [])
        take = pending if limit is None else pending[:limit]
        self.plan[self.turn] = pending[len(take):]
        return "".join(f"{_OPEN}{i}{_CLOSE}" for i in take)

    def acknowledge(self, notes) -> str:
        """The note for the first attribute in `notes` disclosed but not yet acknowledged ('' if none)."""
        for key in notes:
            if key in self.mentioned and key not in self.acked:
                self.acked.add(key)
                return notes[key]
        return ""

    def verbatim(self, text) -> str:
        """Literal text (code, names): kept exactly, never touched by typos or lowercasing."""
        return f"{_VERB_OPEN}{text}{_VERB_CLOSE}"

    def variables(self) -> dict[str, Any]:
        return {"pick": self.pick, "pick_once": self.pick_once, "opt": self.opt, "chance": self.chance,
                "keep": self.keep, "kept": self.kept, "verbatim": self.verbatim,
                "acknowledge": self.acknowledge,
                "disclose": self.disclose, "br": _BR, "tab": _TAB, "mentioned": self.mentioned}


def _render_macro(intent: Intent, state: _State, which: str, n: int) -> str:
    try:
        macros = state.modules.get(intent.name)
        if macros is None:  # top-level picks are drawn once per conversation and intent
            # What Template.make_module does, minus building the exported-names module object.
            context = intent.template.new_context(state.variables())
            for _ in intent.template.root_render_func(context):
                pass
            # The compiled macro functions, called directly: Macro.__call__ only adds argument
            # handling that user(n)/assistant(n) do not need (autoescape is off).
            macros = state.modules[intent.name] = {name: _direct(context.vars[name]) for name in ("user", "assistant")}
        return str(macros[which](n))
    except TemplateError:
        raise
    except Exception as exc:  # any template failure: name the file and the line
        line = _error_line(exc, intent)
        where = f"line {line}: " if line else ""
        message = getattr(exc, "message", None) or str(exc)
        raise TemplateError(f"{intent.path}: {where}{type(exc).__name__}: {message}") from None


_BR_SPACE = re.compile(f" ?{_BR} ?")
_TAB_SPACE = re.compile(f"{_TAB} ?")


def _direct(macro):
    """The compiled function behind a one-argument macro (the Macro object for anything fancier)."""
    func = getattr(macro, "_func", None)
    simple = (len(getattr(macro, "arguments", ())) == 1 and not getattr(macro, "defaults", ())
              and not getattr(macro, "catch_kwargs", True) and not getattr(macro, "catch_varargs", True)
              and not getattr(macro, "caller", True))
    return func if func is not None and simple else macro


def _collapse(text: str) -> str:
    """Template layout whitespace becomes single spaces; `br` and `tab` become a newline and 4 spaces."""
    text = " ".join(text.split())  # much faster than a regex on macro output full of layout whitespace
    if _BR in text:
        text = _BR_SPACE.sub("\n", text)
    if _TAB in text:
        text = _TAB_SPACE.sub("    ", text)
    return text.strip(" ")


@dataclass(slots=True)
class _Planned:
    item: Disclosable
    style: str
    user_turn: int


def conversation_rng(seed: int, persona_id: str, k: int) -> random.Random:
    """The random source of one conversation (string seeds hash the same in every process)."""
    return seeded_random(seed, persona_id, k)


class TemplateGenerator:
    """Generates template conversations for personas (see module docstring)."""

    def __init__(self, taxonomy: Taxonomy, library: Optional[TemplateLibrary] = None,
                 config: Optional[GenerationConfig] = None):
        self.taxonomy = taxonomy
        self.library = library or TemplateLibrary()
        self.config = config or GenerationConfig()
        names = self.config.intents or list(self.library.intents)
        for name in names:
            if name not in self.library.intents:
                raise SynthgapError(f"unknown intent {name!r} (known: {', '.join(sorted(self.library.intents))})")
        self.intents = [self.library.intents[n] for n in names if self.library.intents[n].weight > 0]
        if not self.intents:
            raise SynthgapError("no intent with a positive weight to generate from")
        self._weights = [i.weight for i in self.intents]
        lo, hi = self.config.disclosures
        if lo < 0 or hi < lo:
            raise SynthgapError(f"disclosures per conversation: bad range {lo}-{hi}")
        self._lookups: dict = {}
        self._noisy = self.config.realism.active()
        mode = self.config.disclosure
        self._styles = () if mode == "none" else ("explicit", "implicit") if mode == "mixed" else (mode,)

    def conversations(self, personas: Iterable[Persona], start: int = 0) -> Iterator[Conversation]:
        """per_persona conversations for each persona, in order; skips the first `start`."""
        k = self.config.per_persona
        skip_personas, skip_in_first = divmod(start, k)
        for p_index, persona in enumerate(personas):
            if p_index < skip_personas:
                continue
            pool = DisclosurePool(entries(persona, self.taxonomy, self._lookups), self._styles)
            for c in range(skip_in_first if p_index == skip_personas else 0, k):
                yield self._conversation(persona, c, pool)

    def conversation(self, persona: Persona, k: int) -> Conversation:
        """Conversation k of a persona (deterministic in config seed, persona id and k)."""
        pool = DisclosurePool(entries(persona, self.taxonomy, self._lookups), self._styles)
        return self._conversation(persona, k, pool)

    def _conversation(self, persona: Persona, k: int, pool: "DisclosurePool") -> Conversation:
        cfg = self.config
        rng = conversation_rng(cfg.seed, persona.id, k)
        intent = rng.choices(self.intents, weights=self._weights)[0]
        planned = self._plan(pool, intent, rng)
        plan: dict[int, list[int]] = {}
        for i, p in enumerate(planned):
            plan.setdefault(p.user_turn, []).append(i)
        state = _State(rng, plan, cfg.realism)
        turns: list[Turn] = []
        disclosures: list[Disclosure] = []
        switches = []
        current = intent
        noise_rng = None
        for n in range(cfg.turns):
            state.turn = n
            step = n
            if n > 0 and cfg.realism.topic_change and rng.random() < cfg.realism.topic_change and len(self.intents) > 1:
                current = rng.choice([i for i in self.intents if i is not current])
                switches.append({"turn": len(turns), "intent": current.name})
                step = 0
            raw = _render_macro(current, state, "user", step)
            segments = self._segments(_collapse(raw), planned, state, persona, rng)
            if self._noisy:
                # Surface noise draws from its own stream, so the knobs change only the surface.
                noise_rng = noise_rng or seeded_random(cfg.seed, persona.id, k, "noise")
                segments = noise.apply(segments, cfg.realism, noise_rng)
            spanned = noise.join(segments)
            text = spanned.text or "ok"
            turn_index = len(turns)
            for d_index, (a, b) in sorted(spanned.spans.items()):
                p = planned[d_index]
                disclosures.append(build(Disclosure, attribute_id=p.item.key, turn=turn_index,
                                                              style=p.style, span=(a, b)))
                state.mentioned[p.item.key] = str(p.item.value.phrase if p.item.value else p.item.attribute.value)
            turns.append(build(Turn, role="user", content=text))
            state.role = "assistant"
            reply = _collapse(_render_macro(current, state, "assistant", step))
            reply = reply.replace(_VERB_OPEN, "").replace(_VERB_CLOSE, "")
            state.role = "user"
            turns.append(build(Turn, role="assistant", content=reply or "Sure."))
        meta: dict[str, Any] = {"intent": intent.name, "generator": "template", "seed": cfg.seed, "k": k,
                                "disclosed": {d.attribute_id: _value_of(planned, d.attribute_id) for d in disclosures}}
        if switches:
            meta["topic_changes"] = switches
        return build(Conversation, id=f"{persona.id}-c{k}", user_id=persona.id, source=cfg.source,
                                            synthetic=True, turns=turns, persona_id=persona.id,
                                            disclosures=disclosures, meta=meta)

    def _plan(self, candidates: "DisclosurePool", intent: Intent, rng: random.Random) -> list[_Planned]:
        """Which attributes this conversation discloses, in which style, in which user turn."""
        lo, hi = self.config.disclosures
        want = rng.randint(lo, hi)
        styles = self._styles
        if not styles or want == 0 or not candidates.items:
            return []
        chosen = candidates.choose(intent, want, rng)
        out = []
        for item in chosen:
            usable = [s for s in styles if item.can(s)]
            style = usable[0] if len(usable) == 1 else rng.choice(usable)
            # Most disclosures come early, as in real requests; some surface in follow-ups.
            turn = 0 if self.config.turns == 1 or rng.random() < 0.5 else rng.randrange(self.config.turns)
            out.append(_Planned(item, style, turn))
        return out

    def _segments(self, text: str, planned: list[_Planned], state: _State, persona: Persona,
                  rng: random.Random) -> list[Segment]:
        """Split rendered text at disclosure placeholders and put each disclosure sentence in."""
        leftover = state.plan.get(state.turn, [])
        if leftover:  # the template did not call disclose() (enough): the rest opens the turn
            text = "".join(f"{_OPEN}{i}{_CLOSE}" for i in leftover) + " " + text
            state.plan[state.turn] = []
        elif _OPEN not in text:  # no disclosure in this turn: nothing to place
            return _literal_segments(text)
        parts = _PLACEHOLDER.split(text)  # literal, index, literal, index, ..., literal
        segments: list[Segment] = []
        for j, part in enumerate(parts):
            if j % 2 == 0:
                segments.extend(_literal_segments(part))
                continue
            index = int(part)
            p = planned[index]
            after = parts[j + 1].lstrip() if j + 1 < len(parts) else ""
            more = j + 2 < len(parts)
            pieces, _ = render(p.item, p.style, persona, rng, index, ending=not after and not more)
            so_far = "".join(seg.text for seg in segments)
            tail = so_far.rstrip()
            if not tail or tail[-1] in ".!?\n":
                pieces[0].text = _upper_first(pieces[0].text)
            if tail and tail[-1].isalnum():  # "hi there" + "I'm a nurse." -> "hi there, I'm a nurse."
                segments.append(Segment(","))
                so_far += ","
            if so_far and not so_far[-1].isspace():
                segments.append(Segment(" "))
            segments.extend(pieces)
            ends = pieces[-1].text.rstrip()[-1:]
            following = parts[j + 1] if j + 1 < len(parts) else ""
            if following[:len(following) - len(following.lstrip(" "))].count("\n") or following.lstrip(" ")[:1] == "\n":
                # a line break follows: end the sentence and keep the break as the template wrote it
                if ends not in (".", "!", "?", ",", ";", ":"):
                    segments.append(Segment("."))
                continue
            if ends in (",", ";", ":"):
                if after:
                    parts[j + 1] = " " + _lower_first(after)
                elif not pieces[-1].protected:
                    pieces[-1].text = pieces[-1].text.rstrip()[:-1] + "."
                    parts[j + 1] = " " if more else ""
            elif ends not in (".", "!", "?"):
                if after:
                    sep = rng.choice([".", ",", " -"])
                    segments.append(Segment(sep))
                    parts[j + 1] = " " + (_upper_first(after) if sep == "." else _lower_first(after))
                else:
                    segments.append(Segment("."))
                    parts[j + 1] = " " if more else ""
            else:
                parts[j + 1] = (" " + _upper_first(after)) if after else (" " if more else "")
        return _tidy(segments)


class DisclosurePool:
    """A persona's attributes that can be disclosed in this run's styles; weights cached per intent."""

    def __init__(self, items: list[tuple], styles: tuple[str, ...]):
        # (attribute, spec, value, can) entries; a Disclosable is only built for the ones chosen
        self.items = [it for it in items if any(it[3][s] for s in styles)]
        self._weights: dict[str, list[float]] = {}

    def cumulative_for(self, intent: Intent) -> list[float]:
        """Cumulative weights: intent-relevant attributes are four times as likely to come up."""
        weights = self._weights.get(intent.name)
        if weights is None:
            relevant = set(intent.relevant)
            weights = self._weights[intent.name] = list(itertools.accumulate(
                4.0 if it[0].id in relevant else 1.0 for it in self.items))
        return weights

    def choose(self, intent: Intent, want: int, rng: random.Random) -> list[Disclosable]:
        """`want` distinct attributes, drawn by weight (redrawing the few repeats)."""
        cum = self.cumulative_for(intent)
        want = min(want, len(self.items))
        picked: list[int] = []
        while len(picked) < want:
            i = bisect.bisect_right(cum, rng.random() * cum[-1])
            i = min(i, len(cum) - 1)
            if i not in picked:
                picked.append(i)
        return [Disclosable(*self.items[i]) for i in picked]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    return noise.lower_first(text)


def _literal_segments(text: str) -> list[Segment]:
    """Template text, with verbatim() pieces as segments no noise may touch."""
    if not text:
        return []
    if _VERB_OPEN not in text:
        return [Segment(text)]
    out, pos = [], 0
    for m in _VERBATIM.finditer(text):
        if m.start() > pos:
            out.append(Segment(text[pos:m.start()]))
        out.append(Segment(m.group(1), True, None, True))
        pos = m.end()
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


def _tidy(segments: list[Segment]) -> list[Segment]:
    """Collapse doubled spaces between segments (templates and separators both add some)."""
    out: list[Segment] = []
    for seg in segments:
        if out and not out[-1].protected and not seg.protected:
            prev = out[-1]
            if prev.text.endswith(" ") and seg.text.startswith(" "):
                seg = Segment(seg.text.lstrip(" "), seg.protected, seg.disclosure)
        if seg.text and seg.text[0] in ".,!?" and out and out[-1].text.endswith(" ") and not out[-1].protected:
            out[-1] = Segment(out[-1].text.rstrip(" "), out[-1].protected, out[-1].disclosure)
        if seg.text:
            out.append(seg)
    return out


def _value_of(planned: list[_Planned], key: str) -> Any:
    for p in planned:
        if p.item.key == key:
            return p.item.attribute.value
    return None
