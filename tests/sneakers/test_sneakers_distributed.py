"""Sneaker image normalisation on a real two-node Ray cluster (Daft) gives the in-process rows and JPEGs.

The images are served over HTTP on 127.0.0.1 (good ones in every awkward mode, broken ones, a missing one, a
placeholder `data:` URL); the workers download and normalise them through the same guarded client.
"""

from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest

from assets.sneakers.tables import IMAGES, LISTINGS
from foundation.compute import ComputeResource
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window
from sandbox.http_server import BackgroundHTTPServer
from sandbox.sneakers.images import BROKEN_FORMS, GOOD_FORMS, render
from scrapers.sneakers.images import IMAGE_BATCH, collect_images

from .conftest import materialize

# One two-node cluster per session: keep every cluster test on one xdist worker (`make test` runs `-n auto`).
pytestmark = pytest.mark.xdist_group("ray_cluster")

QUERY = "air max 90"
COMPARED = ["image_url", "query", "content_sha256", "source_mode", "source_width", "source_height"]


def _images() -> dict[str, bytes]:
    """Good images for two work units of the cluster map, and one of each broken form."""
    files = {}
    for i in range(IMAGE_BATCH + 5):
        form = GOOD_FORMS[i % len(GOOD_FORMS)]
        files[f"/img/{i}.bin"], _ = render(f"{i:08d}", 7, i % 9, "Nike", ("Black", "White"), form)
    for form in BROKEN_FORMS:
        files[f"/img/{form}.bin"], _ = render("00000001", 7, 1, "Nike", ("Black", "White"), form)
    return files


@pytest.fixture(scope="module")
def image_server():
    files = _images()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *_: object) -> None:
            pass

    with BackgroundHTTPServer(Handler, 0, "images") as server:
        yield server, sorted(files) + ["/img/missing.bin"]


def _wanted(base_url: str, paths: list[str]) -> list[tuple[str, str]]:
    return [(f"{base_url}{p}", QUERY) for p in paths] + [("data:image/gif;base64,R0lGOD", QUERY)]


def _normalised(rows: list[dict]) -> pa.Table:
    """The rows without their timestamp, with each JPEG's bytes instead of its path (the roots differ)."""
    table = pa.Table.from_pylist([{k: r[k] for k in COMPARED} | {"jpeg": Path(r["path"]).read_bytes()} for r in rows])
    return table.sort_by("image_url")


def test_collect_images_on_the_cluster_matches_in_process(ray_cluster, image_server, tmp_path):
    server, paths = image_server
    wanted, allow = _wanted(server.base_url, paths), [urlsplit(server.base_url).netloc]
    local = collect_images(wanted, {}, tmp_path / "local", None, allow=allow)
    engine = ComputeResource(ray_address=ray_cluster.address).engine()
    cluster = collect_images(wanted, {}, tmp_path / "ray", None, allow=allow, engine=engine)
    assert len(local.rows) == IMAGE_BATCH + 5
    assert _normalised(cluster.rows).equals(_normalised(local.rows))
    assert sorted(cluster.rejects, key=repr) == sorted(local.rejects, key=repr)
    assert {reason.split(":")[0] for _, reason, _ in local.rejects} == {
        "corrupt",
        "not_an_image",
        "decompression_bomb",
        "http_404",
        "placeholder_image",
    }
    assert (cluster.downloaded, cluster.reused) == (local.downloaded, local.reused)


def test_the_images_asset_on_the_cluster_writes_what_it_writes_in_process(
    ray_cluster, image_server, instance, tmp_path
):
    server, paths = image_server
    from assets.sneakers.partitions import add_queries

    add_queries(instance, [QUERY])
    now = datetime.now(UTC)
    listings = pa.Table.from_pylist(
        [
            {"listing_id": str(i), "title": "Nike Air Max 90", "image_url": url, "query": QUERY, "scraped_at": now}
            | {"scrape_date": now.date()}
            for i, (url, _) in enumerate(_wanted(server.base_url, paths))
        ],
        schema=LISTINGS.schema,
    )
    tables = {}
    for name, resources in [("local", {}), ("ray", {"compute": {"config": {"ray_address": ray_cluster.address}}})]:
        storage = StorageResource(root_uri=str(tmp_path / name))
        LISTINGS.store(storage).overwrite(listings, Window.of("query", QUERY))
        metadata, _ = materialize(
            instance, storage, server.base_url, ["sneaker_images"], partition=QUERY, run_config={"resources": resources}
        )
        quarantine = storage.quarantine("sneaker_images").store.read(columns=["location", "reason", "raw"])
        tables[name] = (_normalised(IMAGES.store(storage).read().to_pylist()), quarantine.sort_by("location"))
        assert metadata["sneaker_images"]["images"] == IMAGE_BATCH + 5
    assert tables["ray"][0].equals(tables["local"][0])
    assert tables["ray"][1].equals(tables["local"][1]) and tables["local"][1].num_rows == 5
