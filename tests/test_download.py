"""Downloads (the q2 --corpus URL, the q3 Davidson file) from a local HTTP server: capped, timed, checked, atomic."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from trainables.chargen import data as chargen_data
from trainables.common import download
from trainables.common.errors import DataError
from trainables.tweets import data as tweets_data

SHARED_DAVIDSON = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "davidson2017" / "labeled_data.csv"


class Handler(http.server.BaseHTTPRequestHandler):
    """/file/NAME: the bytes in ``files``; /endless: data without Content-Length, forever;
    /slow: a byte every 0.2 s."""

    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self):
        name = self.path.split("?")[0][6:]
        if self.path.startswith("/file/") and name in self.files:
            body = self.files[name]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path in ("/endless", "/slow"):
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(10_000):
                    self.wfile.write(b"x" * (1 if self.path == "/slow" else 65536))
                    self.wfile.flush()
                    if self.path == "/slow":
                        time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".part"))


def test_fetch_streams_into_place_and_reuses_the_copy(server, tmp_path, monkeypatch):
    monkeypatch.setitem(Handler.files, "corpus.txt", b"to be or not to be\n" * 1000)
    target = tmp_path / "cache" / "corpus.txt"
    got = download.fetch(f"{server}/file/corpus.txt", target, max_bytes=1 << 20, deadline_s=30)
    assert got == target and target.read_bytes() == b"to be or not to be\n" * 1000
    monkeypatch.setitem(Handler.files, "corpus.txt", b"changed")
    got = download.fetch(f"{server}/file/corpus.txt", target, max_bytes=1 << 20, deadline_s=30)
    assert got.read_bytes()[:5] == b"to be"
    assert leftovers(tmp_path) == []


def test_too_large_too_slow_or_missing_is_a_one_line_error_and_leaves_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setitem(Handler.files, "big.txt", b"y" * 5000)
    cases = [(f"{server}/file/big.txt", 1000, 30, "is 5000 bytes, more than the limit of 1000"),
             (f"{server}/endless", 200_000, 30, "sent more than the limit of 200000 bytes"),
             (f"{server}/slow", 1 << 20, 0.5, "took longer than 0.5 s"),
             (f"{server}/file/missing.txt", 1 << 20, 30, "cannot download .*HTTP Error 404")]
    for url, cap, deadline, message in cases:
        target = tmp_path / "out.txt"
        started = time.monotonic()
        with pytest.raises(DataError, match=message) as err:
            download.fetch(url, target, max_bytes=cap, deadline_s=deadline, what="test data")
        assert "\n" not in str(err.value) and str(err.value).startswith("test data: ")
        assert time.monotonic() - started < 10
        assert not target.exists() and leftovers(tmp_path) == []


def test_a_file_with_the_wrong_checksum_is_refused(server, tmp_path, monkeypatch):
    body = b"tweet,class\nhello,2\n"
    monkeypatch.setitem(Handler.files, "labeled_data.csv", body)
    monkeypatch.setattr(tweets_data, "DAVIDSON_URL", f"{server}/file/labeled_data.csv")
    with pytest.raises(DataError, match=f"sha256 {hashlib.sha256(body).hexdigest()}, expected "
                                        f"{tweets_data.DAVIDSON_SHA256}") as err:
        tweets_data.fetch_davidson(tmp_path)
    assert "\n" not in str(err.value)
    assert not list(tmp_path.rglob("labeled_data.csv")) and leftovers(tmp_path) == []

    monkeypatch.setattr(tweets_data, "DAVIDSON_SHA256", hashlib.sha256(body).hexdigest())
    path = tweets_data.fetch_davidson(tmp_path)
    assert path.read_bytes() == body
    path.write_bytes(b"tampered")  # a cached copy is checked as well
    with pytest.raises(DataError, match="the cached copy"):
        tweets_data.fetch_davidson(tmp_path)


@pytest.mark.skipif(not SHARED_DAVIDSON.is_file(), reason="no shared copy of the Davidson file in this checkout")
def test_the_expected_checksum_is_the_upstream_files():
    assert hashlib.sha256(SHARED_DAVIDSON.read_bytes()).hexdigest() == tweets_data.DAVIDSON_SHA256


def test_corpus_urls_download_through_the_same_path(server, tmp_path, monkeypatch):
    monkeypatch.setitem(Handler.files, "plays.txt", b"ROMEO: hello\n")
    path = chargen_data.download(f"{server}/file/plays.txt?raw=1", tmp_path)
    assert path.name.endswith("-plays.txt") and path.read_text() == "ROMEO: hello\n"
    monkeypatch.setattr(chargen_data, "CORPUS_MAX_BYTES", 4)
    with pytest.raises(DataError, match="--corpus: .*more than the limit of 4"):
        chargen_data.download(f"{server}/file/plays.txt?other", tmp_path)
