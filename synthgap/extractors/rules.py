"""Rules extractor: explicit self-disclosures in user turns, found by spaCy token patterns.

The baseline extractor: fast, deterministic, no model beyond spaCy. Each user sentence is
scanned for anchors ("I" + a state verb, "my <relation>", "as a ...", "here in ...", "we" +
a state verb, requests about how to answer); the clause from the anchor on becomes an
attribute whose statement is the clause in the third person ("I'm a nurse" -> "The user is a
nurse"), with a category from word lists, a stability (situational when the clause says
"right now", "at the moment", or is a progressive), and its evidence (conversation, turn,
character span).

Written as hand rules over token texts rather than dependency arcs: user text is lowercase,
unpunctuated and misspelled often enough ("im married and ive got two kids") that the parse
is unreliable, while the token sequence is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Sequence

from ..lexicon import BE, HAVE, KIN, RELATIONS
from ..nlp import load_spacy, spacy_model_version
from ..records import Attribute, Evidence, UserHistory

VERSION = 1  # bump when the rules change: it is part of the extractor's identity

# -- word lists ------------------------------------------------------------------------------------

_I = {"i"}
_NEG = {"not", "n't", "nt", "never", "no"}
_SKIP_ADV = {"somewhat", "fairly", "simply",
             "really", "also", "just", "still", "mostly", "only", "definitely", "actually", "honestly", "pretty",
             "usually", "always", "generally", "currently", "now", "even", "kind", "kinda", "sort", "of", "so",
             "very", "quite", "a", "bit", "basically", "literally", "totally", "truly", "already", "personally",
             "recently", "finally", "originally", "sometimes", "often", "rarely", "mainly", "probably"}
# after "I'm": words that make it small talk or a request, not a disclosure
_NOT_DISCLOSURE = {"sure", "sorry", "glad", "happy", "curious", "wondering", "trying", "looking", "going", "gonna",
                   "thinking", "asking", "stuck", "confused", "back", "done", "ok", "okay", "fine", "good", "ready",
                   "able", "afraid", "aware", "here", "there", "about", "planning", "writing", "making", "hoping",
                   "getting", "having", "doing", "feeling", "struggling", "working", "trying", "new", "unsure",
                   "sorry", "excited", "interested", "so", "not", "also", "using", "just", "reading", "talking",
                   "referring", "talking", "saying", "told", "supposed", "meant", "afraid", "tired", "bored",
                   "worried", "nervous", "scared", "lost", "right", "wrong", "the", "this", "that", "it", "still",
                   "in", "at", "on", "with", "to", "like", "after", "over", "off", "out", "up", "down", "free",
                   "familiar", "certain", "convinced", "willing", "concerned", "surprised", "shocked", "sad",
                       "impressed",
                   "touched", "grateful", "thankful", "pleased", "open", "aware", "unaware", "positive", "correct",
                   "agree", "agreed", "confident", "skeptical", "down", "game", "all", "alright", "great", "well",
                   "fantastic", "awesome", "amazing", "sorry", "honored", "moved", "disappointed", "upset", "angry",
                   "mad", "annoyed", "frustrated", "curious", "uncertain", "unfamiliar", "bad", "tired", "glad",
                   "hesitant", "inclined", "unable", "one",
                   "more", "less", "much", "definitely", "totally", "absolutely", "leaning", "saddened", "heartbroken"}
# "I'm interested in", "I'm into", "I'm on (keto)", "I'm in (Leeds)" are disclosures after all
_BE_KEEP = {"interested", "into", "on", "in", "at", "from", "free", "working", "raising", "learning", "studying",
            "dealing", "recovering", "training", "living", "expecting", "doing", "getting", "still", "not",
            "after", "free", "obsessed", "passionate", "involved", "based", "allergic", "intolerant"}
_BE_NOT_AFTER = {  # "I'm on it", "I'm in a hurry", "I'm not sure"
    "on": {"it", "this", "that", "the", "my", "board", "hold", "mobile", "phone", "here", "my", "your"},
    "in": {"a", "this", "that", "trouble", "charge", "need", "doubt", "love", "luck", "here"},
    "not": {"sure", "asking", "trying", "looking", "going", "gonna", "saying", "talking", "getting", "able",
            "certain", "clear", "a", "that", "familiar", "interested", "aware", "convinced", "ready", "able"},
    "at": {"the", "a", "it", "least", "work", "home", "this", "that", "my", "all", "loss"},
    "still": {"not", "confused", "stuck", "waiting", "trying", "looking", "here", "there", "getting"},
    "doing": {"it", "this", "that", "something", "the", "my", "wrong", "well", "fine", "ok", "okay", "good",
              "great", "alright", "better", "pretty", "so", "very", "really", "just", "awesome", "fantastic", "a",
              "an", "some", "what", "research", "my", "too", "nothing", "homework", "the"},
    "interested": {"to", ".", ",", "!", "?", "and", "but", "though", "too", "as", "if"},
    "getting": {"a", "an", "the", "it", "this", "that", "ready", "error", "errors", "confused", "married"},
    "working": {"on"},
    "after": {"a", "the", "some"},
    "free": {"to"},
}
_PROGRESSIVE_KEEP = {"raising", "learning", "studying", "dealing", "recovering", "training", "living", "expecting",
                     "doing", "getting", "working", "caring", "looking", "enjoying", "figuring", "going", "trying",
                     "teaching", "running", "renting", "saving", "paying", "volunteering"}
_PROGRESSIVE_NEEDS = {"looking": {"after"}, "going": {"through"}, "trying": {"to"}, "working": {"as", "at", "in",
                                                                                                  "for", "from"},
                      "getting": {"on", "by", "married", "divorced"}}
# verbs whose present tense with "I" says something about the speaker
_STATE_VERBS = {"work", "live", "speak", "study", "teach", "eat", "drink", "follow", "practise", "practice", "prefer",
                "love", "like", "enjoy", "hate", "dislike", "adore", "listen", "watch", "play", "read", "cook",
                "run", "cycle", "swim", "own", "volunteer", "vote", "believe", "pray", "tend", "identify", "rent",
                "support", "care", "look", "keep", "wear", "rely", "suffer", "struggle", "hike", "bake",
                "paint", "write", "draw", "knit", "sew", "garden", "fish", "train", "lift", "dance", "sing",
                "collect", "code", "program", "drive", "commute", "belong", "come", "grew", "grow", "go", "know",
                "make", "manage", "run", "raise", "homeschool", "avoid", "need", "do", "only",
                "stay", "share", "attend", "serve", "lead", "head", "own"}
_NEED_OBJECT = {"believe": {"in"}, "need": {"glasses", "a", "to"}, "go": {"to"}, "do": {"a", "an", "keto",
                "intermittent", "some", "yoga",
                                                                      "pilates", "crossfit", "the"},
                "make": {"a", "good", "decent", "enough"}, "look": {"after"}, "keep": {"kosher", "halal", "fit"},
                "know": {"how"}, "come": {"from"}}
_CAN_VERBS = {"code", "program", "speak", "swim", "drive", "cook", "bake", "eat", "drink", "read", "walk", "hear",
              "afford", "only", "play", "sew", "knit", "dance", "sing", "fix", "repair", "cut", "ride", "paint",
              "draw", "type", "sign", "ski", "surf", "climb", "build", "weld", "crochet", "stand", "tolerate",
              "digest", "handle"}
_ING_ADJECTIVES = {"easygoing", "outgoing", "caring", "loving", "willing", "boring", "demanding", "understanding",
                   "accommodating", "forgiving", "hardworking", "hard-working", "trusting", "left-leaning",
                   "right-leaning", "interesting", "amazing", "exciting", "charming", "calming", "daring"}
_PAST_OK = {"grew", "born", "moved", "finished", "graduated", "studied", "did", "retired", "diagnosed", "raised",
            "served", "turned", "left", "dropped", "worked", "lived", "spent", "emigrated", "immigrated",
            "married", "divorced", "lost", "quit", "got"}
_REQUEST_STOP = {"what", "how", "why", "where", "when", "which", "who", "can", "could", "would", "any", "anything",
                 "should", "pls", "please", "need", "want", "help", "thanks", "thank", "cheers", "ty", "is", "are",
                 "do", "does", "tell", "give", "write", "explain", "recommend", "suggest"}
_IMPERATIVE = {"keep", "use", "put", "give", "make", "write", "explain", "format", "answer", "respond", "reply",
               "include", "skip", "avoid", "be", "stick", "limit", "show", "list", "talk", "speak", "go"}
_ANSWER_WORDS = {"short", "brief", "concise", "long", "detailed", "detail", "details", "table", "tables", "bullet",
                 "bullets", "list", "lists", "steps", "step", "examples", "example", "simple", "simply", "plain",
                 "straight", "blunt", "direct", "formal", "casual", "friendly", "gentle", "honest", "tone", "answer",
                 "answers", "paragraph", "paragraphs", "points", "summary", "overview", "sources", "code", "jargon",
                 "technical", "warm", "funny", "humour", "humor", "serious", "professional", "numbered", "headings",
                 "diagram", "diagrams", "gist", "nitty", "depth", "thorough"}
_LIFE_OBJECTS = {"wedding", "baby", "retirement", "divorce",
                 "job", "work", "house", "home", "flat", "apartment", "abroad", "country", "city", "partner",
                 "girlfriend", "boyfriend", "husband", "wife", "internship", "career", "school", "university"}
_PERFECT_STATES = {"live", "work", "study", "teach", "volunteer", "practise", "practice", "be", "suffer", "struggle",
                   "train", "run", "follow", "rent", "own", "play", "cook", "vote"}
_NOT_POSSESSIONS = {"question", "questions", "problem", "problems", "issue", "issues", "idea", "ideas", "feeling",
                    "doubt", "doubts", "meeting", "look", "few", "lot", "bunch", "couple", "quick", "little", "go",
                    "try", "chance", "clue", "list", "presentation", "essay", "report", "exam", "test", "interview",
                    "date", "party", "trip", "error", "code", "file", "script", "dataset", "function", "table",
                    "program", "app", "website", "project", "task", "assignment", "homework", "document", "text",
                    "email", "letter", "story", "paper", "article", "concern", "concerns", "request", "favor",
                    "favour", "suggestion", "opinion", "thought", "thoughts", "point", "answer", "similar",
                    "same", "more", "other", "another", "nothing", "something", "anything", "everything"}
_WEHAVE = {"kids", "children", "a", "two", "three", "four", "no", "got", "grandchildren", "pets", "dog", "cat",
            "twins", "good", "one"}
_WE_ARE = {"married", "engaged", "expecting", "comfortable", "getting", "living", "renting", "vegan", "vegetarian",
           "retired", "moving", "struggling", "broke", "divorced", "separated", "homeschooling", "pregnant"}
_DANGLING = {"not", "n't", "nt", "am", "'m", "m", "is", "have", "'ve", "ve", "do", "does", "been", "a", "an", "the",
             "my"}
_FILLERS = {"and", "but", "so", "honestly", "well", "also", "oh", "ok", "okay", "yeah", "hi", "hey", "btw", "like",
            "um", "uh", "anyway", "also", "fyi", "tbh", "just"}
_NO_WORDS = {"access", "needs", "dietary", "restrictions", "allergies", "injuries", "health", "problems", "kids",
             "children", "pets", "siblings", "religion", "degree", "car", "partner", "job"}

_CATEGORIES: list[tuple[str, frozenset]] = [
    ("answer_preferences", frozenset({"answer", "answers", "responses", "explanations", "tone", "format", "bullet",
                                      "bullets", "table", "tables", "paragraphs", "examples", "jargon"})),
    ("constraints", frozenset({
        "vegan", "vegetarian", "pescatarian", "keto", "halal", "kosher", "gluten", "lactose", "allergic", "allergy",
        "nut", "nuts", "dairy", "celiac", "coeliac", "diet", "dietary", "meat", "eat", "budget", "afford",
        "cheap", "money", "paycheck", "spare", "tight", "broke", "screen", "reader", "wheelchair", "blind",
        "dyslexia", "dyslexic", "deaf", "hearing", "sighted", "vision", "access", "accessibility", "evenings",
        "weekends", "busy", "minutes", "schedule", "intolerant"})),
    ("family_relationships", frozenset({
        "married", "single", "divorced", "widowed", "widow", "widower", "engaged", "separated", "partner",
        "husband", "wife", "spouse", "boyfriend", "girlfriend", "relationship", "kids", "kid", "children", "child",
        "son", "daughter", "baby", "toddler", "teenager", "grandchildren", "grandkids", "grandson",
        "granddaughter", "mom", "mum", "mother", "dad", "father", "parents", "parent", "brother", "sister",
        "family", "dog", "cat", "pet", "pets", "puppy", "alone", "roommate", "roommates", "flatmate",
        "flatmates", "nester", "stepdad", "stepmom", "twins"})),
    ("health_body", frozenset({
        "diagnosed", "asthma", "diabetes", "diabetic", "condition", "injury", "injured", "sprained", "broken",
        "pain", "healthy", "health", "active", "sedentary", "fit", "unfit", "gym", "arthritis", "migraines",
        "anxiety", "depression", "adhd", "autism", "autistic", "pregnant", "recovering", "surgery", "knee", "back",
        "ankle", "wrist", "shoulder", "blood", "pressure", "cholesterol", "allergies", "medication", "weight",
        "overweight", "insomnia", "chronic", "illness", "disease", "cancer", "eczema", "ibs", "run", "running",
        "exercise", "workout", "marathon"})),
    ("demographics", frozenset({
        "age", "turned", "woman", "man", "male", "female", "guy", "girl", "nonbinary",
        "non-binary", "trans", "transgender", "citizen", "american", "british", "german", "french", "spanish",
        "japanese", "indian", "canadian", "australian", "live", "living", "based", "born", "grew", "from",
        "native", "language", "speak", "speaker", "fluent", "bilingual", "english", "hindi", "white", "black",
        "asian", "latino", "latina", "hispanic", "straight", "gay", "lesbian", "bisexual", "queer", "name",
        "hometown", "city", "country", "town", "here", "moved", "languages", "tamil", "mandarin", "arabic"})),
    ("occupation_education", frozenset({
        "work", "working", "job", "employed", "unemployed", "self-employed", "freelance", "freelancer", "retired",
        "student", "degree", "college", "university", "uni", "school", "phd", "diploma", "career", "trade",
        "employer", "boss", "company", "paid", "salary", "income", "master", "master's", "bachelor", "bachelor's",
        "graduated", "studied", "studying", "colleagues", "clients", "patients", "students", "teacher", "nurse",
        "engineer", "developer", "doctor", "manager", "lawyer", "office", "shift", "shifts", "business",
        "full-time", "part-time", "junior", "senior", "mid-career", "profession", "retirement"})),
    ("values_beliefs", frozenset({
        "christian", "muslim", "hindu", "jewish", "buddhist", "sikh", "atheist", "agnostic", "catholic",
        "protestant", "church", "mosque", "temple", "pray", "religion", "religious", "faith", "god", "shinto",
        "politically", "political", "liberal", "conservative", "progressive", "left-leaning", "right-leaning",
        "vote", "voted", "cause", "charity", "volunteer", "volunteering", "environment", "climate", "believe",
        "spiritual", "care", "passionate", "involved", "practise", "practice", "follow"})),
    ("personality", frozenset({
        "introvert", "introverted", "extravert", "extrovert", "extroverted", "shy", "outgoing", "stubborn",
        "organised", "organized", "messy", "impulsive", "cautious", "gut", "decisions", "decision", "choice",
        "nature", "person", "perfectionist", "patient", "impatient", "anxious", "optimist", "pessimist",
        "overthinker", "overthink", "laid-back", "competitive", "chatty", "quiet"})),
    ("skills_expertise", frozenset({
        "code", "coding", "program", "programmer", "programming", "python", "javascript", "beginner",
        "intermediate", "advanced", "expert", "certified", "know", "how", "skill", "skills", "experienced",
        "learning", "fluent", "novice", "amateur", "proficient"})),
    ("interests_hobbies", frozenset({
        "love", "enjoy", "like", "into", "hobby", "hobbies", "fan", "listen", "music", "watch", "play", "read",
        "reading", "collect", "interested", "obsessed", "spare", "hike", "hiking", "bake", "baking", "paint",
        "painting", "garden", "gardening", "fishing", "knit", "knitting", "guitar", "piano", "games", "gaming",
        "football", "soccer", "basketball", "tennis", "golf", "yoga", "climbing", "chess", "anime", "movies",
        "films", "books", "photography", "travel", "traveling", "travelling", "cooking", "rock", "jazz", "pop"})),
    ("life_situation", frozenset({
        "moment", "now", "currently", "these", "days", "lately", "recently", "moving", "settled", "figuring",
        "raising", "expecting", "newly", "stage", "transition"})),
]
_SITUATIONAL = re.compile(r"\b(right now|at the moment|currently|these days|lately|this (week|month|year|"
                          r"weekend|morning)|today|tonight|recently|for now|at present|temporarily|for the time being|"
                          r"next (week|month|year)|just (started|moved|got|had|lost))\b", re.I)
_PERSON_NOUN_HINT = {"woman", "man", "mom", "mum", "dad", "parent", "student", "citizen", "teacher", "nurse",
                     "someone", "person", "immigrant", "expat", "veteran", "retiree", "beginner", "developer",
                     "engineer", "doctor", "lawyer", "freelancer", "musician", "artist", "writer", "mother",
                     "father", "grandparent", "grandmother", "grandfather", "widow", "widower", "vegan",
                     "vegetarian", "christian", "muslim", "hindu", "jew", "buddhist", "atheist"}
_AS_NOT = {"result", "whole", "reminder", "example", "matter", "rule", "side", "bonus", "gift", "treat",
           "starting", "backup", "test", "joke", "favor", "favour", "last", "first", "follow", "reference",
           "well", "soon", "far", "long", "much", "many", "if", "though", "usual", "for", "such", "of", "per"}

_AS_NOT_AFTER = {"such", "same", "just", "well", "so", "as", "work", "works", "worked", "working", "serve", "served",
                 "employed", "hired", "volunteer", "started", "job", "trained", "qualified", "me", "him", "her",
                 "them", "it", "this", "that", "count", "counts", "counted", "treat", "treated", "see", "seen",
                 "known", "regarded", "described", "act", "acts", "acting", "use", "used", "serves"}
_THIRD_PERSON_IRREGULAR = {"have": "has", "'ve": "has", "’ve": "has", "ve": "has", "be": "is", "am": "is",
                           "'m": "is", "’m": "is", "m": "is", "do": "does", "go": "goes", "can": "can",
                           "ca": "can", "wo": "will", "'d": "would", "’d": "would", "d": "would", "was": "was",
                           "'ll": "will", "’ll": "will", "ll": "will", "must": "must", "should": "should",
                           "could": "could", "would": "would", "will": "will", "may": "may", "might": "might",
                           "are": "is", "were": "was", "'re": "is", "’re": "is", "re": "is"}
_PRONOUNS = {"i": "the user", "me": "them", "my": "their", "mine": "theirs", "myself": "themselves",
             "we": "they", "us": "them", "our": "their", "ours": "theirs", "ourselves": "themselves",
             "your": "the assistant's", "you": "the assistant"}
_NOT_FORMS = {"n't": "not", "nt": "not", "’t": "not"}


@dataclass(frozen=True)
class Finding:
    """One disclosure in one text: character span, category, stability and the third-person statement."""
    start: int
    end: int
    category: str
    stability: str
    statement: str
    pattern: str


def third_person(verb: str) -> str:
    """The third-person singular present of a verb ("have" -> "has", "watch" -> "watches")."""
    low = verb.lower()
    if low in _THIRD_PERSON_IRREGULAR:
        return _THIRD_PERSON_IRREGULAR[low]
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(low) > 1 and low.endswith("y") and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _lower(tok) -> str:
    return tok.lower_.replace("’", "'")


class RulesExtractor:
    """Self-disclosure rules over spaCy tokens; `extract_texts` for plain texts, `extract` for histories."""

    name = "rules"

    def __init__(self, nlp=None, batch_size: int = 256, max_chars: int = 5000):
        self._nlp = nlp
        self.batch_size = batch_size
        self.max_chars = max_chars

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = load_spacy(exclude=("ner", "parser"))
        return self._nlp

    @property
    def identity(self) -> str:
        from importlib.metadata import version

        return f"rules-v{VERSION}:spacy-{version('spacy')}:{spacy_model_version() or 'blank'}"

    # -- texts ----------------------------------------------------------------------------------

    def extract_texts(self, texts: Sequence[str], description: str = "rules extraction") -> list[list[Finding]]:
        """The findings of each text (texts are cut at `max_chars`); a progress bar on a terminal."""
        from ..progress import count_progress

        out = []
        with count_progress(len(texts), description) as advance:
            for doc in self.nlp.pipe((t[:self.max_chars] for t in texts), batch_size=self.batch_size):
                out.append(list(self._doc(doc)))
                advance(1)
        return out

    def _doc(self, doc) -> Iterator[Finding]:
        for sent in (doc.sents if doc.has_annotation("SENT_START") else [doc[:]]):
            tokens = list(sent)
            anchors = [a for a in (self._anchor(tokens, i) for i in range(len(tokens))) if a is not None]
            for k, (i, kind, category) in enumerate(anchors):
                stop = anchors[k + 1][0] if k + 1 < len(anchors) else len(tokens)
                clause = _trim(tokens, i, stop, cut_at_comma=kind in ("as", "here"))
                if sum(not t.is_punct for t in clause) < 2 or _lower(clause[-1]) in _DANGLING:
                    continue
                text = doc.text[clause[0].idx:clause[-1].idx + len(clause[-1].text)]
                lows = {_lower(t) for t in clause} | {t.lemma_.lower() for t in clause}
                category = category or _category(lows, kind)
                stability = "situational" if (_SITUATIONAL.search(text) or category == "life_situation"
                                               or kind == "progressive") else "stable"
                yield Finding(clause[0].idx, clause[-1].idx + len(clause[-1].text), category, stability,
                              _statement(clause, kind), kind)

    def _anchor(self, toks: list, i: int) -> Optional[tuple[int, str, Optional[str]]]:
        """(token index, pattern kind, forced category) when a disclosure starts at token i."""
        low = _lower(toks[i])
        nxt = [_lower(t) for t in toks[i + 1:i + 8]]
        prev = _lower(toks[i - 1]) if i else ""
        if low in _I and prev not in ("if", "when", "whether", "should", "can", "could", "do", "would", "did",
                                      "that", "what", "how", "why", "where", "unless"):
            return self._after_i(toks, i)
        if low == "my" and nxt:
            k = i + 1
            while k < min(len(toks), i + 4) and _lower(toks[k]) not in RELATIONS:
                k += 1
            if k >= min(len(toks), i + 4) or _lower(toks[k - 1]) == "own":
                return None
            k += 1
            while k < len(toks) and (toks[k].pos_ in ("NOUN", "PROPN", "PART", "ADJ") or _lower(toks[k]) == "of") \
                    and _lower(toks[k]) != "'s":
                k += 1
            possessive = k + 1 < len(toks) and _lower(toks[k]) == "'s" and toks[k + 1].pos_ in ("NOUN", "ADJ")
            if k < len(toks) and not possessive and (toks[k].pos_ in ("AUX", "VERB") or _lower(toks[k]) in (
                    "is", "'s", "are", "was",
                                                                                           "has", "have", "were")):
                return i, "my", None
            if {_lower(t) for t in toks[i + 1:k]} & KIN and prev not in ("for", "to", "about", "of", "help"):
                return i, "my-kin", "family_relationships"
            return None
        if low == "as" and len(nxt) >= 2 and nxt[0] in ("a", "an", "someone", "somebody", "one") \
                and nxt[1] not in _AS_NOT and prev not in _AS_NOT_AFTER:
            window = nxt[:5]
            if nxt[0] in ("someone", "somebody") or any(w in _PERSON_NOUN_HINT for w in window) or \
                    any(w in (",", "i", "myself", ".") for w in window):
                return i, "as", None
        if low == "here" and nxt[:1] == ["in"] and len(toks) > i + 2 and toks[i + 2].is_alpha:
            return i, "here", "demographics"
        if low == "we" and nxt and prev not in ("if", "when", "should", "can", "do", "that", "what", "how"):
            if nxt[0] in ("live", "rent", "own", "homeschool", "moved") or (
                    nxt[0] in ("have", "'ve", "ve") and len(nxt) > 1 and (nxt[1] in _WEHAVE or
                                                                          toks[i + 2].like_num)) or (
                    nxt[0] in ("'re", "re", "are") and len(nxt) > 1 and nxt[1] in _WE_ARE):
                return i, "we", None
        if low in ("please", "pls", "plz") or (low in _IMPERATIVE and (_sentence_start(toks, i)
                                                                       or prev in ("please", "pls"))):
            window = {_lower(t) for t in toks[i:i + 10]}
            if window & _ANSWER_WORDS and window & _IMPERATIVE and sum(t.is_alpha for t in toks[i:i + 4]) >= 3:
                return i, "request", "answer_preferences"
        if low == "for" and nxt[:1] == ["me"] and i >= 2 and _lower(toks[i - 1]) in ("best", "better", "well"):
            j = max(0, i - 6)
            while j < i and not toks[j].is_alpha:
                j += 1
            return j, "works-for-me", "answer_preferences"
        if low in ("can", "could") and nxt[:2] == ["you", "be"] and "me" in nxt[:8]:
            return i, "request", "answer_preferences"
        if low == "no" and _sentence_start(toks, i) and {_lower(t) for t in toks[i + 1:i + 5]} & _NO_WORDS:
            return i, "no", None
        if low in ("life", "money", "things", "work", "finances", "health") and _sentence_start(toks, i) and \
                nxt[:1] and nxt[0] in ("is", "'s", "are", "isn't", "has", "have") and "?" not in nxt:
            return i, "state", "life_situation" if low in ("life", "things") else None
        return None

    def _after_i(self, toks: list, i: int) -> Optional[tuple[int, str, Optional[str]]]:
        j = i + 1
        if j + 1 < len(toks) and _lower(toks[j]) in ("'d", "d", "would") and _lower(toks[j + 1]) == "say":
            return None  # "I'd say I'm ...": the next "I" anchors
        while j < len(toks) and _lower(toks[j]) in _SKIP_ADV - {"a", "of", "kind", "sort", "bit", "so"}:
            j += 1  # "I really am", "I also have", "I mostly listen"
        words = [_lower(t) for t in toks[j:j + 8]]
        if not words:
            return None
        first = words[0]
        rest = words[1:]
        if first in BE:
            return self._after_be(toks, i, j + 1, past=first == "was")
        if first in HAVE and first != "had":
            k = j + 1
            if k < len(toks) and _lower(toks[k]) == "been":  # "I've been retired for years"
                return self._after_be(toks, i, k + 1, past=False)
            if k < len(toks) and _lower(toks[k]) == "got":
                k += 1
            while k < len(toks) and _lower(toks[k]) in _SKIP_ADV - {"a", "of", "so"}:
                k += 1
            if not _possession(toks, k):
                return None
            return i, "have", None
        if first in ("do", "did", "does") and len(rest) >= 2 and rest[0] in _NEG:
            verb = rest[1]
            if first == "did" and verb not in ("finish", "graduate", "go"):
                return None
            if verb in _NEED_OBJECT and not (set(rest[2:4]) & _NEED_OBJECT[verb]):
                return None
            return (i, "verb", None) if verb in _STATE_VERBS | {"have", "eat", "drink", "drive", "smoke"} and \
                verb not in ("know", "like", "need", "do", "go") else None
        if first in ("ca", "can", "cannot") and rest:
            verb = rest[1] if rest[0] in _NEG and len(rest) > 1 else rest[0]
            return (i, "verb", None) if verb in _CAN_VERBS else None
        tag = toks[j].tag_
        if first == "just" or first == "turned":
            return (i, "age", "demographics") if any(t.like_num for t in toks[j:j + 3]) else None
        if first in _PAST_OK and (tag in ("VBD", "VBN", "") or first in ("grew", "born", "moved")):
            if first in ("lost", "left", "got", "quit") and not ({_lower(t) for t in toks[j + 1:j + 4]} &
                                                                  {"husband", "wife", "job", "school", "married",
                                                                   "divorced", "early", "home"}):
                return None
            if first == "did" and not ({_lower(t) for t in toks[j + 1:j + 5]} & {
                    "degree", "college", "master's", "masters", "phd", "bachelor's", "diploma", "course",
                    "apprenticeship", "training", "doctorate", "mba", "some"}):
                return None
            return i, "past", None
        lemma = toks[j].lemma_.lower()
        if first in ("'d", "d", "would", "will", "'ll", "ll", "should", "could", "might", "want", "need", "wanna",
                     "think", "guess", "wonder", "hope", "feel", "bought", "tried", "saw", "read", "heard",
                     "thought", "asked", "said", "told", "just", "mean", "see", "get", "got", "understand", "need"):
            return None
        verb = first if first in _STATE_VERBS else lemma
        if verb not in _STATE_VERBS or tag in ("VBD", "VBN", "VBG"):
            return None
        if verb in _NEED_OBJECT and not (set(rest[:2]) & _NEED_OBJECT[verb]):
            return None
        if verb in ("like", "love", "enjoy", "prefer", "hate") and rest[:1] and rest[0] in (
                "that", "how", "what", "it", "this", "these", "those", "the", "your", "you", "when", "which", "where",
                "why", "if", "both", "all", "them", "him", "her"):
            return None
        if verb in ("like", "love", "hate") and rest[:1] == ["to"] and len(rest) > 1 and rest[1] in (
                "know", "ask", "see", "get", "learn", "find", "understand", "have", "try", "make", "hear", "say",
                "be", "admit", "bother", "think", "help", "donate", "give", "add", "point", "share"):
            return None
        if verb == "work" and rest and rest[0] in ("on", "through", "with", "out") :
            return None
        return i, "verb", None

    def _after_be(self, toks: list, i: int, j: int, past: bool) -> Optional[tuple[int, str, Optional[str]]]:
        while j < len(toks) and _lower(toks[j]) in _SKIP_ADV - {"a", "of", "so", "still", "not"}:
            j += 1
        if j >= len(toks):
            return None
        word = _lower(toks[j])
        after = [_lower(t) for t in toks[j + 1:j + 4]]
        if past:  # "I was born in", "I was diagnosed with", "I was raised"
            return (i, "past", None) if word in ("born", "diagnosed", "raised", "brought", "adopted") else None
        if toks[j].like_num:
            try:
                value = float(word.rstrip("+"))
            except ValueError:
                value = 0
            if 10 <= value <= 110 and (not after or after[0] in ("years", "yrs", "yo", "y/o", ".", ",", "and", "!",
                                                                 "now", "next", "this", "but", "so", "-", "year")):
                return i, "age", "demographics"
            return None
        if word in ("from", "based") or (word == "in" and j + 1 < len(toks) and (
                toks[j + 1].pos_ == "PROPN" or toks[j + 1].text[:1].isupper())):
            return i, "be", "demographics"
        if word in ("a", "an"):
            nxt = after[:2]
            if nxt and nxt[0] in ("little", "bit", "lot", "few", "huge", "quick", "total", "complete", "newbie",
                                  "beginner", "noob") and not (nxt[0] in ("beginner", "huge", "bit", "total",
                                                                          "complete") and len(after) > 1
                                                               and after[1] not in ("confused", "lost", "stuck",
                                                                                    "worried", "nervous")):
                return None
            return i, "identity", None
        if word in ("looking", "moving", "planning") and {_lower(t) for t in toks[j + 1:j + 5]} & _LIFE_OBJECTS:
            return i, "progressive", "life_situation"
        if word in _NOT_DISCLOSURE and word not in _BE_KEEP:
            return None
        content = [w for w in after if w not in _SKIP_ADV] if word == "not" else after
        if word in _BE_NOT_AFTER and content and content[0] in _BE_NOT_AFTER[word]:
            return None
        if (toks[j].tag_ == "VBG" or word.endswith("ing")) and word not in _ING_ADJECTIVES:
            if word in ("looking", "moving") and {_lower(t) for t in toks[j + 1:j + 5]} & _LIFE_OBJECTS:
                return i, "progressive", "life_situation"
            if word not in _PROGRESSIVE_KEEP:
                return None
            need = _PROGRESSIVE_NEEDS.get(word)
            if need and not (after and after[0] in need):
                return None
            return i, "progressive", None
        if word in ("the", "this", "that", "it", "so", "too", "very", "not", "also", "such", "just"):
            if word == "not":
                content = [w for w in after if w not in _SKIP_ADV]
                if content and content[0] not in _BE_NOT_AFTER["not"]:
                    return i, "be", None
            return None
        if toks[j].is_punct or toks[j].like_num:
            return None
        return i, "be", None


def _possession(toks: list, k: int) -> bool:
    """What follows "I have" is a possession or a state ("two kids", "asthma", "no car", "lived here for
    years"), not a perfect tense of an event ("have donated"), an obligation ("have to") or small talk."""
    if k >= len(toks):
        return False
    tok = toks[k]
    low = _lower(tok)
    if tok.tag_ in ("VBN", "VBD") or low.endswith("ed") and tok.pos_ == "VERB":
        return tok.lemma_.lower() in _PERFECT_STATES
    if tok.pos_ not in ("DET", "NUM", "ADJ", "NOUN", "PROPN") and not tok.like_num:
        return False
    if low in ("this", "that", "these", "those", "any", "what", "which", "the"):
        return False
    after = {_lower(t) for t in toks[k:k + 3]}
    return not (after & _NOT_POSSESSIONS)


def _sentence_start(toks: list, i: int) -> bool:
    """Token i opens its sentence, or a clause after a comma, not counting fillers ("so", "honestly")."""
    for k in range(i - 1, -1, -1):
        low = _lower(toks[k])
        if low in (",", ";", "-", "—", ":") or (toks[k].is_punct and set(low) <= set(".?!…")):
            return True
        if not (toks[k].is_punct or low in _FILLERS):
            return False
    return True


def _trim(tokens: list, start: int, stop: int, cut_at_comma: bool) -> list:
    """The clause tokens: from the anchor to the next anchor or the sentence end, cut before a request."""
    out = []
    for k in range(start, min(stop, start + 30)):
        tok = tokens[k]
        low = _lower(tok)
        if out and low in (",", ";", ":", "-", "—", "–") and k + 1 < stop:
            nxt = _lower(tokens[k + 1])
            if cut_at_comma or nxt in _REQUEST_STOP:
                break
        if out and tok.is_punct and set(low) <= set(".?!…"):
            break
        out.append(tok)
    while out and (out[-1].is_punct or _lower(out[-1]) in ("and", "but", "so", "or", "because", "cause", "cuz",
                                                          "which", "that", "though", "then", "&", "-", "lol")):
        out.pop()
    return out


def _category(lows: set, kind: str) -> str:
    for name, words in _CATEGORIES:
        if lows & words:
            return name
    return {"identity": "occupation_education", "be": "personality", "have": "family_relationships",
            "verb": "interests_hobbies", "progressive": "life_situation", "past": "demographics",
            "as": "occupation_education", "my": "family_relationships", "my-kin": "family_relationships",
                "we": "life_situation"}.get(kind, "other")


def category_of(text: str) -> str:
    """A statement's category from the same word lists ("other" when none fits)."""
    words = set(re.findall(r"[\w'-]+", text.lower()))
    return next((name for name, lexicon in _CATEGORIES if words & lexicon), "other")


def _statement(clause: list, kind: str) -> str:
    """The clause in the third person, starting with "The user"."""
    parts: list[list] = []  # [text, whitespace after]
    subject_seen = inflected = False
    for tok in clause:
        low = _lower(tok)
        attached = low.startswith("'") or low in ("m", "ve", "re", "ll", "d", "nt", "s", "n't")
        text = tok.text
        if low in _PRONOUNS and not (low == "us" and tok.text == "US"):
            text = _PRONOUNS[low]
            if low in ("i", "we"):
                subject_seen, inflected = True, low == "we"  # "we" keeps the plural verb
        elif low in _NOT_FORMS:
            text = "not"
        elif low in ("ca", "wo"):
            text = "can" if low == "ca" else "will"
            inflected = inflected or subject_seen
        elif subject_seen and not inflected and (tok.pos_ in ("AUX", "VERB") or low in _THIRD_PERSON_IRREGULAR):
            inflected = True
            if tok.tag_ not in ("VBD", "VBN", "VBG", "MD") or low in _THIRD_PERSON_IRREGULAR:
                text = third_person(low if low in _THIRD_PERSON_IRREGULAR else text)
        if attached and text != tok.text and parts and not parts[-1][1]:
            parts[-1][1] = " "
        parts.append([text, tok.whitespace_])
    sentence = "".join(t + w for t, w in parts).strip()
    if kind == "as":
        return "The user is " + re.sub(r"^as\s+", "", sentence, flags=re.I).rstrip(" ,")
    if kind == "here":
        return "The user is " + re.sub(r"^here\s+", "", sentence, flags=re.I)
    if kind == "my":
        return "The user's " + re.sub(r"^their\s+", "", sentence, flags=re.I)
    if kind == "my-kin":
        noun = next(_lower(t) for t in clause if _lower(t) in KIN)
        plural = noun.endswith("s") or noun in ("children", "grandchildren")
        return f"The user has {'' if plural else 'an ' if noun[0] in 'aeiou' else 'a '}{noun}"
    if kind == "we":
        return "The user's household: " + sentence
    if kind == "request":
        body = re.sub(r"^(please|pls|plz)\s*,?\s*", "", sentence, flags=re.I)
        body = re.sub(r"^(can|could) the assistant\s+", "", body, flags=re.I)
        body = re.sub(r",?\s*(please|pls|plz)$", "", body, flags=re.I)
        return f"The user asks the assistant to {_uncap(body)}"
    if sentence.lower().startswith("the user"):
        return "T" + sentence[1:]
    return f"The user says {_uncap(sentence)}"


def _uncap(text: str) -> str:
    """"Use bullet points" -> "use bullet points" (a capital that only opened the sentence)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def user_turns(history: UserHistory) -> Iterator[tuple[str, int, str]]:
    """(conversation id, turn index, text) of every user turn of a history, in order."""
    for conv in history.conversations:
        for t, turn in enumerate(conv.turns):
            if turn.role == "user" and turn.content.strip():
                yield conv.id, t, turn.content


def findings_to_attributes(findings: Iterable[tuple[str, int, Finding]], prefix: str = "rules") -> list[Attribute]:
    """One attribute per distinct statement, its evidence every place it was found."""
    merged: dict[str, Attribute] = {}
    for conv_id, turn, f in findings:
        key = re.sub(r"\W+", " ", f.statement.lower()).strip()
        ev = Evidence(conversation_id=conv_id, turn=turn, span=(f.start, f.end))
        if key in merged:
            merged[key].evidence.append(ev)
            continue
        merged[key] = Attribute(id=f"{prefix}-{len(merged)}", statement=f.statement, category=f.category,
                                stability=f.stability, evidence=[ev], meta={"pattern": f.pattern})
    return list(merged.values())


def findings_by_turn(extractor: RulesExtractor, histories: Sequence[UserHistory]) -> list[dict]:
    """Per history: (conversation id, turn) -> the findings in that user turn (turns without any left out);
    all user turns are parsed in one spaCy stream."""
    places = [(h, c, t, text) for h, hist in enumerate(histories) for c, t, text in user_turns(hist)]
    per: list[dict] = [{} for _ in histories]
    for (h, conv_id, turn, _), items in zip(places, extractor.extract_texts([p[3] for p in places])):
        if items:
            per[h][(conv_id, turn)] = items
    return per


def extract_histories(extractor: RulesExtractor, histories: Sequence[UserHistory]) -> list[list[Attribute]]:
    """Attributes per history, in reading order."""
    return [findings_to_attributes((c, t, f) for (c, t), items in found.items() for f in items)
            for found in findings_by_turn(extractor, histories)]


__all__ = ["Finding", "RulesExtractor", "VERSION", "category_of", "extract_histories", "findings_by_turn",
           "findings_to_attributes", "third_person", "user_turns"]
