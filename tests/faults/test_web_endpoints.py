"""Hostile requests against the three pages (`storefront serve code|retail|amazon`), each on a real uvicorn
server on 127.0.0.1: every malformed request gets its 4xx (never a dropped connection or a hang) and
the server still answers a good request afterwards; then schemathesis fuzzes each page's OpenAPI schema.

Raw sockets where an HTTP client would refuse to send the request (bad Content-Length, a short body).
The models behind the pages are tiny and untrained or barely trained: these tests are about the edges.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import schemathesis
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

from foundation.web import Server

BODY_TIMEOUT_S = 1.0
GOOD = {
    "code": ("POST", "complete", {"prompt": "def f(", "max_chars": 5}),
    "retail": ("POST", "api/recommendations", {"items": [7]}),
    "amazon": ("GET", "?user=u1", None),
}
POST_PATH = {"code": "/complete", "retail": "/api/recommendations", "amazon": "/"}


# -- the three servers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def code_url() -> Iterator[str]:
    from models.code_corpus.config import CharRNNConfig
    from models.code_corpus.model import build_model
    from models.code_corpus.service import CompletionService
    from models.code_corpus.vocab import CharVocabulary

    vocab = CharVocabulary()
    model = build_model(CharRNNConfig(layers=1, units=8, embedding_dim=4, dropout=0.0, vocab_size=vocab.size))
    with CompletionService(model, vocab, body_timeout_s=BODY_TIMEOUT_S, header_timeout_s=BODY_TIMEOUT_S) as service:
        yield service.url


@pytest.fixture(scope="module")
def retail_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from models.retail.config import TwoTowerConfig
    from models.retail.retrieval import catalogue_features
    from models.retail.shop import create_shop_app
    from models.retail.two_tower import Recommender, build_towers, candidate_inputs, save_index
    from sandbox.retail import catalogue_frame, generate_world

    catalogue = catalogue_features(catalogue_frame(generate_world(n_people=20, n_items=40, seed=3)))
    config = TwoTowerConfig(embedding_dim=4, gru_units=4)
    query, candidates = build_towers(catalogue, config)  # untrained: the edges do not need a good model
    embeddings = np.asarray(candidates(candidate_inputs(catalogue), training=False))
    model_dir = save_index(tmp_path_factory.mktemp("index"), query, embeddings, catalogue, config, {})
    with Server(
        create_shop_app(Recommender(model_dir), body_timeout_s=BODY_TIMEOUT_S), header_timeout_s=BODY_TIMEOUT_S
    ) as server:
        yield server.url


@pytest.fixture(scope="module")
def amazon_url() -> Iterator[str]:
    from models.amazon.recommendations_page import RecommendationsApp, create_page_app
    from models.amazon.recommenders import Interactions, MostPopularRecommender, RandomRecommender, Split

    rows, cols = np.nonzero(np.random.default_rng(0).random((12, 30)) < 0.3)
    matrix = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(12, 30))
    train = Interactions(matrix, np.array([f"u{i}" for i in range(12)]), np.array([f"i{j}" for j in range(30)]))
    split = Split(train, {u: [int(np.flatnonzero(matrix[u].toarray()[0] == 0)[0])] for u in range(12)})
    models = {"random": RandomRecommender().fit(train), "popular": MostPopularRecommender().fit(train)}
    page = RecommendationsApp.build("faults", split, {f"i{j}": f"item <{j}>" for j in range(30)}, models)
    with Server(create_page_app(page, body_timeout_s=BODY_TIMEOUT_S), header_timeout_s=BODY_TIMEOUT_S) as server:
        yield server.url


@pytest.fixture(params=["code", "retail", "amazon"])
def page(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, request.getfixturevalue(f"{request.param}_url")


def assert_still_serves(name: str, url: str) -> None:
    method, path, body = GOOD[name]
    answer = httpx.request(method, url + path, json=body, timeout=30)
    assert answer.status_code == 200, answer.text


def raw(url: str, request: bytes, wait_s: float = 10.0) -> tuple[int, bytes]:
    """Send `request` bytes as they are; the status code and whole answer (the server must answer, then close)."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.create_connection((host, port), timeout=wait_s) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer (got {answer!r})"
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def post_raw(url: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    lines = [f"POST {path} HTTP/1.1", f"Host: {httpx.URL(url).host}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return raw(url, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def post_json_text(url: str, path: str, text: str | bytes) -> httpx.Response:
    content = text.encode() if isinstance(text, str) else text
    return httpx.post(url + path.lstrip("/"), content=content, headers={"Content-Type": "application/json"}, timeout=30)


# -- bodies the request models refuse --------------------------------------------------------------------

JSON_CASES = {
    # name: (code body, retail body, status)
    "array": ("[1, 2]", "[7]", 422),
    "null": ("null", "null", 422),
    "not JSON": ("{prompt", "{not json", 400),
    "1e400 (infinite)": ('{"max_chars": 1e400}', '{"items": [1e400]}', 422),
    "5000-digit integer": ('{"max_chars": ' + "9" * 5000 + "}", '{"items": [' + "9" * 5000 + "]}", 400),
    "nested 5000 deep": (
        '{"prompt": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"items": ' + "[" * 5000 + "]" * 5000 + "}",
        400,
    ),
    "wrong type": ('{"prompt": 5}', '{"items": ["7"]}', 422),
    "unknown field": ('{"promt": "x"}', '{"items": [7], "admin": true}', 422),
}


@pytest.mark.parametrize("case", list(JSON_CASES))
@pytest.mark.parametrize("name", ["code", "retail"])
def test_bad_json_bodies_get_4xx(name: str, case: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{name}_url")
    code_body, retail_body, status = JSON_CASES[case]
    answer = post_json_text(url, POST_PATH[name], code_body if name == "code" else retail_body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
    assert_still_serves(name, url)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 101}, "top_k"),
        ({"max_chars": 0}, "max_chars"),
        ({"max_chars": 401}, "max_chars"),
        ({"temperature": -1}, "temperature"),
        ({"prompt": "x" * 10_001}, "prompt"),
        ({"stop": "never"}, "stop"),
        ({"seed": -1}, "seed"),
    ],
)
def test_completion_bounds(code_url: str, body: dict, field: str) -> None:
    answer = httpx.post(code_url + "complete", json=body, timeout=30)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", field]
    assert_still_serves("code", code_url)


def test_lone_surrogate_in_a_prompt_gets_422(code_url: str) -> None:
    """JSON may escape half a surrogate pair, which no text encoder accepts: pydantic refuses it."""
    answer = post_json_text(code_url, "/complete", '{"prompt": "x = \\ud800", "max_chars": 3}')
    assert answer.status_code == 422 and answer.json()["detail"][0]["type"] == "string_unicode"
    assert_still_serves("code", code_url)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"items": []}, 422, "at least 1 item"),
        ({"items": [7] * 51}, 422, "at most 50 items"),
        ({"items": [7, 99999]}, 422, "unknown item ids"),
        ({"items": [-1]}, 422, "greater than or equal to 0"),
        ({"items": [2**64]}, 422, "less than or equal to"),
        ({"items": [True]}, 422, "valid integer"),
    ],
)
def test_cart_bounds(retail_url: str, body: dict, status: int, message: str) -> None:
    answer = httpx.post(retail_url + "api/recommendations", json=body, timeout=30)
    assert answer.status_code == status and message in answer.json()["error"], answer.text
    if "unknown" in message:
        assert answer.json()["unknown_items"] == [99999]
    assert_still_serves("retail", retail_url)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("api/items", {"limit": 0}),
        ("api/items", {"limit": 501}),
        ("api/items", {"limit": "ten"}),
        ("api/items", {"q": "x" * 201}),
    ],
)
def test_item_search_bounds(retail_url: str, path: str, params: dict) -> None:
    assert httpx.get(retail_url + path, params=params, timeout=30).status_code == 422
    assert_still_serves("retail", retail_url)


def test_amazon_user_bounds(amazon_url: str) -> None:
    assert httpx.get(amazon_url, params={"user": "u" * 201}, timeout=30).status_code == 422
    unknown = httpx.get(amazon_url, params={"user": "<script>alert(1)</script>"}, timeout=30)
    assert unknown.status_code == 200 and "Unknown user &lt;script&gt;" in unknown.text
    assert_still_serves("amazon", amazon_url)


# -- Content-Length and body size, on every page ---------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "5, 6"])
def test_malformed_content_length_gets_400(page: tuple[str, str], value: str) -> None:
    name, url = page
    status, answer = post_raw(url, POST_PATH[name], {"Content-Length": value}, b"{}")
    assert status == 400, answer
    assert_still_serves(name, url)


def test_content_length_of_a_terabyte_gets_413_unread(page: tuple[str, str]) -> None:
    name, url = page
    status, _ = post_raw(url, POST_PATH[name], {"Content-Length": str(10**12)})
    assert status == 413
    assert_still_serves(name, url)


def test_50_mb_body_is_refused_before_it_is_read(page: tuple[str, str]) -> None:
    """The server answers 413 having read at most the first megabyte the client sent."""
    name, url = page
    started = time.monotonic()
    status, _ = post_raw(url, POST_PATH[name], {"Content-Length": str(50 * 2**20)}, b"[" * 2**20)
    assert status == 413 and time.monotonic() - started < 5
    assert_still_serves(name, url)


@pytest.mark.parametrize("name", ["code", "retail"])
def test_streamed_body_is_cut_at_the_limit(name: str, request: pytest.FixtureRequest) -> None:
    """Chunked (no Content-Length): 413 as soon as the body passes the limit, while the client still sends."""
    url = request.getfixturevalue(f"{name}_url")
    host, port = httpx.URL(url).host, httpx.URL(url).port
    head = f"POST {POST_PATH[name]} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    chunk = b"%x\r\n%s\r\n" % (4096, b" " * 4096)
    sent = 0
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
        sock.settimeout(0.05)
        answer = b""
        while not answer and sent < 50 * 2**20:
            sock.sendall(chunk)
            sent += 4096
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent <= 256 * 1024  # cut at the limit (64 KiB / 16 KiB), not after 50 MB
    assert_still_serves(name, url)


def test_short_body_gets_408_instead_of_a_hang(page: tuple[str, str]) -> None:
    """Content-Length 100 but 10 bytes sent: 408 after the body deadline; the server goes on serving."""
    name, url = page
    started = time.monotonic()
    status, answer = post_raw(url, POST_PATH[name], {"Content-Length": "100"}, b'{"items": ')
    waited = time.monotonic() - started
    if name == "amazon":  # accepts no body at all: 413 at once
        assert status == 413
    else:
        assert status == 408 and b"did not arrive" in answer and BODY_TIMEOUT_S * 0.9 < waited < BODY_TIMEOUT_S + 5
    assert_still_serves(name, url)


@pytest.mark.parametrize("sent", [b"", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Len"])
def test_silent_or_slow_headers_get_408_and_a_closed_connection(page: tuple[str, str], sent: bytes) -> None:
    """Nothing, or half a header block, then silence: 408 after the header deadline, not a slot held forever."""
    name, url = page
    started = time.monotonic()
    status, answer = raw(url, sent)
    assert status == 408 and BODY_TIMEOUT_S * 0.9 < time.monotonic() - started < BODY_TIMEOUT_S + 5
    assert b"connection: close" in answer.lower()
    assert_still_serves(name, url)


def test_missing_content_length_is_an_empty_body(page: tuple[str, str]) -> None:
    name, url = page
    status, _ = post_raw(url, POST_PATH[name], {})
    assert status == (405 if name == "amazon" else 422)
    assert_still_serves(name, url)


def test_unknown_path_and_method(page: tuple[str, str]) -> None:
    name, url = page
    assert httpx.get(url + "no/such/page", timeout=30).json()["error"] == "Not Found"
    assert httpx.delete(url, timeout=30).status_code == 405
    assert_still_serves(name, url)


def test_openapi_schema_is_served(page: tuple[str, str]) -> None:
    name, url = page
    schema = httpx.get(url + "openapi.json", timeout=30).json()
    assert schema["openapi"].startswith("3.") and schema["paths"]
    if name != "amazon":
        body = schema["paths"][POST_PATH[name]]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert json.dumps(body)  # the request model is in the schema, with its bounds


# -- schemathesis against each live server ---------------------------------------------------------------
# schemathesis' pytest plugin (`from_fixture`) does not work with pytest 9 ('Function' object has no
# attribute '_nodeid'), so each operation's strategy runs under hypothesis' own `@given`.

EXAMPLES_PER_OPERATION_AND_MODE = 15


def test_schemathesis_finds_no_5xx_hang_or_dropped_connection(page: tuple[str, str]) -> None:
    name, url = page
    schema = schemathesis.openapi.from_url(url + "openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 1
    for operation in operations:
        for mode in GenerationMode:  # valid requests, then requests the schema says are invalid
            if mode is GenerationMode.NEGATIVE and not (len(operation.query) or len(operation.body)):
                continue  # nothing to make invalid (`GET /`)

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: schemathesis.Case) -> None:
                # a dropped connection or a hang (30 s) raises from the call and fails the test
                case.call_and_validate(checks=[not_a_server_error, response_schema_conformance], timeout=30)

            fuzz()
    assert_still_serves(name, url)
