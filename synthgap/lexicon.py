"""The one self-disclosure lexicon: the words the style feature `self_disclosure` and the rules
extractor read a disclosure from. The style feature matches a few plain patterns on a core subset;
the rules extractor reads the wider sets. One module, so the two cannot drift apart unnoticed."""

from __future__ import annotations

FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself"})
# "I am" as spaCy tokenizes it ("I'm" -> I + 'm); the rules also read "I was" (a past state)
BE_PRESENT = frozenset({"am", "'m", "’m", "m"})
BE = BE_PRESENT | {"was"}
HAVE = frozenset({"have", "'ve", "’ve", "ve", "has", "got", "had"})
# "my <word>": the people, animals and parts of life whose mention says something about the speaker
CORE_RELATIONS = frozenset({"wife", "husband", "partner", "boyfriend", "girlfriend", "kids", "kid",
                           "children", "child", "son", "daughter", "mom", "mother", "dad",
                           "father", "brother", "sister", "dog", "cat", "job", "boss", "family",
                           "parents"})
KIN = frozenset({"baby", "boyfriend", "cat", "cats", "child", "children", "daughter", "daughters",
                "dog", "dogs", "fiance", "fiancee", "fiancé", "girlfriend", "grandchildren",
                "granddaughter", "grandkids", "grandson", "horse", "husband", "kid", "kids",
                "kitten", "partner", "pet", "pets", "puppy", "son", "sons", "spouse", "toddler",
                "wife"})
RELATIONS = CORE_RELATIONS | KIN | {"age", "allergies", "allergy", "back", "background", "budget",
                                    "career", "church", "city", "classes", "clients", "colleagues",
                                    "company", "condition", "country", "coworkers", "degree",
                                    "diagnosis", "diet", "disability", "doctor", "employer", "ex",
                                    "eyesight", "faith", "favorite", "favourite", "first",
                                    "flatmate", "flatmates", "health", "hearing", "hobbies",
                                    "hobby", "home", "hometown", "income", "knee", "landlord",
                                    "main", "major", "mom's", "mum", "mum's", "name", "native",
                                    "patients", "pension", "phd", "religion", "roommate",
                                    "roommates", "salary", "siblings", "students", "team",
                                    "teenager", "therapist", "thesis", "town", "village", "work"}

__all__ = ["BE", "BE_PRESENT", "CORE_RELATIONS", "FIRST_PERSON", "HAVE", "KIN", "RELATIONS"]
