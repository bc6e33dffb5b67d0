"""A real S3-protocol server on 127.0.0.1 for the object-storage tests: `moto_server` in its own process.

Used by the `s3_server` (session) and `s3_storage` fixtures in tests/conftest.py. A separate process speaking
HTTP, not moto's in-process `mock_aws`: requests go through pyarrow's AWS C++ SDK, delta-rs' Rust object_store
and boto3 exactly as they would to a cloud endpoint, with credentials read from the environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ports import free_port

BUCKET = "storefront-test"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach the server: the standard AWS variables, nothing in config."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",  # never wait on an instance-metadata lookup
        }

    def client(self):  # noqa: ANN201 - boto3 clients have no importable type
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, **_credentials(self.env))

    def create_bucket(self, name: str = BUCKET) -> str:
        client = self.client()
        if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str = BUCKET, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]


def _credentials(env: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_REGION"],
    }


@contextmanager
def moto_s3(log_dir: Path) -> Iterator[S3Server]:
    """Start `moto_server` on a free 127.0.0.1 port, wait until it answers, stop it on exit."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if binary is None:
        raise RuntimeError("moto_server is missing: `pip install -e '.[dev]'` installs moto[server]")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (log_dir / "moto_server.log").open("wb")
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = (log_dir / "moto_server.log").read_text()[-2000:]
                    raise RuntimeError(f"moto_server did not start: {output}") from error
                time.sleep(0.2)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (also seen by subprocesses), restoring the old values after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
