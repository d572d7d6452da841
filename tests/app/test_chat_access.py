"""Who may use the chat: the optional login, and document uploads only from the page itself."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from conftest import DOCS, write_docs
from qa.app.auth import AUTH_ENV, AuthError, checker, load_users, parse_pairs
from qa.app.service import ChatService
from qa.index import Index
from qa.retrieval.encoder import HashEncoder


def test_login_pairs_come_from_a_file_or_the_environment(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# who may log in\nana:s3cret:with:colons\n\nbo: pass word \n", encoding="utf-8")
    assert load_users(users, environ={}) == {"ana": "s3cret:with:colons", "bo": "pass word"}
    assert load_users(None, environ={AUTH_ENV: "ana:one,bo:two"}) == {"ana": "one", "bo": "two"}
    assert load_users(users, environ={AUTH_ENV: "env:only"})["ana"] == "s3cret:with:colons", "the file wins"
    assert load_users(None, environ={}) is None


@pytest.mark.parametrize("text, why", [("ana", "user:password"), (":pw", "user:password"), ("ana:", "user:password"),
                                       ("# only a comment\n", "no user:password")])
def test_malformed_logins_are_refused(text: str, why: str) -> None:
    with pytest.raises(AuthError, match=why):
        parse_pairs(text, "test")


def test_a_missing_login_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="cannot read the --auth file"):
        load_users(tmp_path / "nope.txt", environ={})


def test_the_login_check_wants_the_exact_password() -> None:
    check = checker({"ana": "s3cret"})
    assert check("ana", "s3cret")
    assert not check("ana", "s3cret ") and not check("ana", "") and not check("bo", "s3cret")


def test_the_app_stops_on_a_bad_login_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.app import web

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = web.main(["--docs", str(tmp_path), "--index", str(tmp_path / "ix"), "--port", str(port),
                     "--auth", str(tmp_path / "missing.txt")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot read the --auth file")
    assert not (tmp_path / "ix").exists(), "stopped before building anything"


def _post(url: str, body: dict) -> bytes:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.read()


def test_adding_documents_is_refused_to_a_client_without_the_page(tmp_path: Path) -> None:
    """A client posting straight to the queue (as the page does, but without loading it) cannot add text."""
    from qa.app import web

    docs = write_docs(tmp_path / "docs", DOCS)
    service = ChatService(Index.build(docs, tmp_path / "ix", encoder=HashEncoder()), docs)
    demo = web.build_ui(service)
    demo.queue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/gradio_api/"
        config = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10).read())
        paste = next(d for d in config["dependencies"] if len(d["inputs"]) == 3 and
                     {c["props"].get("elem_id") for c in config["components"] if c["id"] in d["inputs"]} >= {"paste-title", "paste-text"})
        session = "no-page-session"
        _post(url + "queue/join", {"data": ["Injected", "Text added by a script without the page.", True],
                                   "fn_index": paste["id"], "session_hash": session, "event_data": None, "trigger_id": None})
        events = urllib.request.urlopen(url + f"queue/data?session_hash={session}", timeout=20).read().decode()
        assert "Documents can be added from the chat page only." in events
        assert sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*") if p.is_file()) == sorted(DOCS), "nothing was saved"
        assert sorted(service.index.documents) == sorted(DOCS), "nothing was indexed"
    finally:
        demo.close()
        service.close()
